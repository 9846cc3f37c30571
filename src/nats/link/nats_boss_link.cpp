// NatsBossLink: BossLink calls onto BossEngine (see nats_boss_link.hpp).
#include "nats/link/nats_boss_link.hpp"

#include "common/log.hpp"
#include "nats/boss/detached_tasks.hpp"
#include "nats/link/link_common.hpp"
#include "uni/uni.hpp"

namespace uni::nats {

NatsBossLink::NatsBossLink(std::string address, std::uint64_t session)
    : address_(std::move(address)), identity_(cluster_identity(address_)), session_(session) {}

NatsBossLink::~NatsBossLink() = default;

broker::BrokerInfo NatsBossLink::open(std::chrono::milliseconds timeout) {
  becomes_.reset();  // on the connection of the engine it replaces
  try {
    engine_ = std::make_unique<BossEngine>(link_config(address_, timeout), session_);
    becomes_ = std::make_unique<BossBecomes>(engine_->connection(), engine_->config());
  } catch (const std::exception& e) {
    throw_connect_failure(e);
  }
  return nats_broker_info(engine_->connection());
}

void NatsBossLink::add_poll_items(std::vector<broker::PollItem>& items) {
  items.push_back({nullptr, engine_->wake_fd(), broker::kPollIn, 0});
  items.push_back({nullptr, becomes_->wake_fd(), broker::kPollIn, 0});
}

void NatsBossLink::process(const broker::PollItem* ready, broker::BossEvents& events) {
  if (ready[1].revents & broker::kPollIn)
    for (const ModuleHash& hash : becomes_->take_modules_needed()) events.on_module_needed(hash);
  if (!(ready[0].revents & broker::kPollIn)) return;
  BossEvents got = engine_->take();
  for (const std::string& text : got.notices) events.on_notice(text);
  for (const ModuleHash& hash : got.modules_needed) events.on_module_needed(hash);
  if (!got.services_started.empty()) events.on_services_started(got.services_started);
  if (!got.results.empty()) events.on_results(got.results);
  if (!got.lost.empty()) events.on_tasks_lost(got.lost);
}

void NatsBossLink::submit(const std::vector<broker::Submission>& tasks) {
  // Consecutive tasks of one platform go to the engine together.
  std::vector<proto::Task> run;
  std::string_view platform;
  for (const broker::Submission& s : tasks) {
    if (!run.empty() && s.platform != platform) {
      engine_->submit(std::string(platform), std::move(run));
      run.clear();
    }
    platform = s.platform;
    run.push_back(*s.task);
  }
  if (!run.empty()) engine_->submit(std::string(platform), std::move(run));
}

void NatsBossLink::put_module(const ModuleHash& hash, std::string_view platform,
                              std::string_view bytes, const proto::ModuleSignatures& signatures) {
  // A become that waits for it stores it itself; if the engine's tasks want
  // it too, the boss sends it again for them (it asked twice).
  if (becomes_->module_arrived(hash, std::string(platform), std::string(bytes), signatures)) return;
  engine_->put_module(hash, std::string(platform), std::string(bytes), signatures);
}

void NatsBossLink::acknowledge(const std::vector<proto::TaskId>&) {
  // Results stay in UNI_RESULTS until they expire, for `uni result ID`.
}

void NatsBossLink::cancel(const std::vector<proto::TaskId>& ids,
                          std::shared_ptr<broker::CancelPromise> reply) {
  try {
    std::vector<proto::CancelOutcome> outcomes = engine_->cancel(ids);
    if (reply) reply->set_value(std::move(outcomes));
  } catch (const std::exception& e) {
    if (!reply) {
      log::warn("cancelling on {}: {}", identity_.name, e.what());
      return;
    }
    reply->set_exception(
        std::make_exception_ptr(Error("cancel on " + identity_.name + ": " + e.what())));
  }
}

void NatsBossLink::request_status(std::shared_ptr<broker::StatusPromise> reply) {
  try {
    reply->set_value(engine_->status());
  } catch (const std::exception& e) {
    reply->set_exception(
        std::make_exception_ptr(Error("status of " + identity_.name + ": " + e.what())));
  }
}

void NatsBossLink::request_become(const proto::BecomeRequest& request,
                                  std::shared_ptr<broker::BecomePromise> reply) {
  if (!becomes_) {
    reply->set_exception(
        std::make_exception_ptr(Error("become on " + identity_.name + ": the link is closed")));
    return;
  }
  becomes_->request(request,
                    [reply](proto::BecomeReply answer) { reply->set_value(std::move(answer)); });
}

void NatsBossLink::close(std::string_view) {
  becomes_.reset();  // what still waits is answered "not ok": the boss closed
  // The engine publishes what was submitted before it stops: a boss that
  // submits and exits (`uni submit`) leaves its tasks queued.
  engine_.reset();
}

proto::TaskId NatsBossLink::submit_detached(const broker::DetachedTask& task) {
  DetachedSubmission s;
  s.module = task.module;
  s.platform = task.platform;
  s.module_bytes = task.module_bytes;
  s.module_signatures = task.module_signatures;
  s.function = task.function;
  s.args = task.args;
  s.timeout_ms = task.timeout_ms;
  s.wait_ms = task.wait_ms;
  s.max_attempts = task.max_attempts;
  try {
    return nats::submit_detached(EngineConfig::from_environment(address_), s);
  } catch (const std::exception& e) {
    throw_api_error(e);
  }
}

std::optional<proto::Result> NatsBossLink::detached_result(const proto::TaskId& id,
                                                           std::chrono::milliseconds wait) {
  try {
    return nats::detached_result(EngineConfig::from_environment(address_), id, wait);
  } catch (const std::exception& e) {
    throw_api_error(e);
  }
}

broker::BossLink::Clock::time_point NatsBossLink::last_heard() const {
  return engine_ ? engine_->last_answer() : Clock::now();
}

}  // namespace uni::nats
