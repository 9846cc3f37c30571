// A WorkerLink with no broker behind it, for unit tests of the supervisor
// (src/worker/supervisor.hpp): it records what the supervisor tells the
// broker (its announcement, credit, module fetches, results, heartbeats,
// goodbye) and lets the test play the broker's part (tasks, modules,
// cancels, results stored, reconnections) on the supervisor's thread.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "broker/worker_link.hpp"
#include "link_double_stage.hpp"

namespace uni::test {

struct WorkerLinkRecord {
  std::optional<broker::WorkerAnnouncement> opened;  // what open() announced
  std::vector<std::uint32_t> credit;                 // each grant, in order
  std::vector<ModuleHash> fetches;
  std::vector<proto::Result> results;  // every result sent, resent ones included
  std::uint32_t last_busy = 0;
  int heartbeats = 0;
  std::optional<std::string> closed;
  std::vector<proto::BecomeReply> become_replies;
};

using WorkerStage = LinkStage<broker::WorkerEvents, WorkerLinkRecord>;

class WorkerLinkDouble final : public broker::WorkerLink {
 public:
  explicit WorkerLinkDouble(std::shared_ptr<WorkerStage> stage, broker::BrokerInfo info = {})
      : stage_(std::move(stage)), info_(std::move(info)) {}

  broker::BrokerInfo open(const broker::WorkerAnnouncement& worker,
                          std::chrono::milliseconds) override {
    stage_->record([&](WorkerLinkRecord& r) { r.opened = worker; });
    return info_;
  }
  void add_poll_items(std::vector<broker::PollItem>& items) override {
    stage_->add_poll_item(items);
  }
  void process(const broker::PollItem* ready, broker::WorkerEvents& events) override {
    stage_->run_acts(ready, events);
  }
  bool grant_credit(std::uint32_t capacity) override {
    stage_->record([&](WorkerLinkRecord& r) { r.credit.push_back(capacity); });
    return true;
  }
  void fetch_module(const ModuleHash& hash) override {
    stage_->record([&](WorkerLinkRecord& r) { r.fetches.push_back(hash); });
  }
  void send_results(const std::vector<const proto::Result*>& results) override {
    stage_->record([&](WorkerLinkRecord& r) {
      for (const proto::Result* result : results) r.results.push_back(*result);
    });
  }
  void send_become_reply(const proto::BecomeReply& reply) override {
    stage_->record([&](WorkerLinkRecord& r) { r.become_replies.push_back(reply); });
  }
  void heartbeat(std::uint32_t busy, const std::vector<proto::TaskId>&) override {
    stage_->record([&](WorkerLinkRecord& r) {
      r.last_busy = busy;
      ++r.heartbeats;
    });
  }
  void close(std::string_view reason) override {
    stage_->record([&](WorkerLinkRecord& r) { r.closed = std::string(reason); });
  }
  const broker::BrokerIdentity& identity() const override { return identity_; }

 private:
  std::shared_ptr<WorkerStage> stage_;
  broker::BrokerInfo info_;
  broker::BrokerIdentity identity_{"test broker", "test://broker", "the test's broker", true};
};

}  // namespace uni::test
