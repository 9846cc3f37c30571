// BossHeartbeat: the bosses bucket and the session ledger, kept by a thread.
#include "nats/boss/boss_heartbeat.hpp"

#include <optional>

#include "common/log.hpp"

namespace uni::nats {

BossHeartbeat::BossHeartbeat(JetStream& js, const EngineConfig& config, std::uint64_t session,
                             std::function<std::uint64_t()> max_seq,
                             std::function<BossEntry()> entry, std::function<void()> answered)
    : js_(js),
      config_(config),
      session_(session),
      max_seq_(std::move(max_seq)),
      entry_(std::move(entry)),
      answered_(std::move(answered)),
      thread_([this] { loop(); }) {}

BossHeartbeat::~BossHeartbeat() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  stop_.notify_all();
  thread_.join();
}

void BossHeartbeat::loop() {
  using Clock = std::chrono::steady_clock;
  std::optional<BossRegistry> bosses;
  std::optional<SessionLedger> ledger;
  std::uint64_t recorded_seq = 0;
  Clock::time_point next_beat{};
  for (bool last = false; !last;) {
    {
      std::unique_lock lock(mutex_);
      stop_.wait_for(lock, std::chrono::milliseconds(100), [&] { return stopping_; });
      last = stopping_;
    }
    try {
      std::uint64_t seq = max_seq_();
      if (seq > recorded_seq && (!last || js_.connection().connected())) {
        if (!ledger)
          ledger.emplace(
              SessionLedger::open(js_, config_.names, config_.replicas, config_.result_max_age));
        ledger->record(session_, seq);
        recorded_seq = seq;
      }
      if (last) {
        // Nothing to remove if it never beat; unreachable, it expires by itself.
        if (bosses && js_.connection().connected()) bosses->leave(session_);
      } else if (Clock::now() >= next_beat) {
        if (!bosses)
          bosses.emplace(BossRegistry::open(js_, config_.names, {.replicas = config_.replicas}));
        bosses->announce(entry_());
        if (answered_) answered_();
        next_beat = Clock::now() + std::chrono::seconds(1);
      }
    } catch (const std::exception& e) {
      log::debug("NATS: putting the registry entries of boss {}: {}", session_hex(session_),
                 e.what());
    }
  }
}

}  // namespace uni::nats
