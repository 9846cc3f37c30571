// A BossLink with no broker behind it, for unit tests of the client
// (src/client/client.hpp): it records what the client asks of the broker
// (tasks, modules, acks, cancels, status requests, heartbeats, goodbye) and
// lets the test play the broker's part (results, module requests, services
// started, reconnections, drops) on the client's I/O thread.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "broker/boss_link.hpp"
#include "link_double_stage.hpp"
#include "uni/uni.hpp"

namespace uni::test {

struct BossLinkRecord {
  bool opened = false;
  std::vector<proto::Task> submitted;  // in the order submitted, resubmissions included
  std::vector<std::string> platforms;  // of each submitted task
  std::vector<std::pair<ModuleHash, std::string>> modules;  // put_module: hash, bytes
  std::vector<proto::TaskId> acked;
  std::vector<std::vector<proto::TaskId>> cancels;
  // Requests awaiting the broker's answer, oldest first (a null cancel
  // reply: nobody waits for it).
  std::vector<std::shared_ptr<broker::CancelPromise>> cancel_replies;
  std::vector<std::shared_ptr<broker::StatusPromise>> status_replies;
  int heartbeats = 0;
  std::optional<std::string> closed;  // the goodbye's reason
};

using BossStage = LinkStage<broker::BossEvents, BossLinkRecord>;

class BossLinkDouble final : public broker::BossLink {
 public:
  // `info`: what open() says about the broker.
  BossLinkDouble(std::shared_ptr<BossStage> stage, broker::BrokerInfo info)
      : stage_(std::move(stage)), info_(std::move(info)) {}

  broker::BrokerInfo open(std::chrono::milliseconds) override {
    stage_->record([](BossLinkRecord& r) { r.opened = true; });
    return info_;
  }
  void add_poll_items(std::vector<broker::PollItem>& items) override {
    stage_->add_poll_item(items);
  }
  void process(const broker::PollItem* ready, broker::BossEvents& events) override {
    stage_->run_acts(ready, events);
  }
  void submit(const std::vector<broker::Submission>& tasks) override {
    stage_->record([&](BossLinkRecord& r) {
      for (const broker::Submission& s : tasks) {
        r.submitted.push_back(*s.task);
        r.platforms.emplace_back(s.platform);
      }
    });
  }
  void put_module(const ModuleHash& hash, std::string_view, std::string_view bytes,
                  const proto::ModuleSignatures&) override {
    stage_->record([&](BossLinkRecord& r) { r.modules.emplace_back(hash, std::string(bytes)); });
  }
  void acknowledge(const std::vector<proto::TaskId>& ids) override {
    stage_->record(
        [&](BossLinkRecord& r) { r.acked.insert(r.acked.end(), ids.begin(), ids.end()); });
  }
  void cancel(const std::vector<proto::TaskId>& ids,
              std::shared_ptr<broker::CancelPromise> reply) override {
    stage_->record([&](BossLinkRecord& r) {
      r.cancels.push_back(ids);
      r.cancel_replies.push_back(std::move(reply));
    });
  }
  void request_status(std::shared_ptr<broker::StatusPromise> reply) override {
    stage_->record([&](BossLinkRecord& r) { r.status_replies.push_back(std::move(reply)); });
  }
  bool requests_pending() const override {
    return stage_->with([](BossLinkRecord& r) {
      for (const auto& c : r.cancel_replies)
        if (c) return true;
      return !r.status_replies.empty();
    });
  }
  void heartbeat() override {
    stage_->record([](BossLinkRecord& r) { ++r.heartbeats; });
  }
  void close(std::string_view reason) override {
    stage_->record([&](BossLinkRecord& r) { r.closed = std::string(reason); });
  }
  Clock::time_point last_heard() const override { return Clock::now(); }
  const broker::BrokerIdentity& identity() const override { return identity_; }

  // The contract of a dropped connection, as the real links keep it: every
  // request awaiting an answer fails with a ConnectError saying why, then
  // the client hears of the drop. Call from an act.
  static void drop(BossStage& stage, broker::BossEvents& events, const std::string& why) {
    stage.record([&](BossLinkRecord& r) {
      auto error = std::make_exception_ptr(ConnectError(ConnectError::Reason::kUnreachable, why));
      for (auto& s : r.status_replies) s->set_exception(error);
      for (auto& c : r.cancel_replies)
        if (c) c->set_exception(error);
      r.status_replies.clear();
      r.cancel_replies.clear();
    });
    events.on_disconnected(why);
  }

 private:
  std::shared_ptr<BossStage> stage_;
  broker::BrokerInfo info_;
  broker::BrokerIdentity identity_{"test broker", "test://broker", "the test's broker", true};
};

}  // namespace uni::test
