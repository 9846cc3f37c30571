// A boss's heartbeat on NATS, on a thread of its own: its entry in the bosses
// bucket put every second (so `uni status` counts it and lists its services
// that no worker runs yet), and its session's highest task id recorded in the
// session ledger as it grows (checked every 100 ms), so that another
// process's cancel can tell its tasks from ids never handed out. On close the
// last id is recorded and the entry removed.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>

#include "nats/client/jetstream.hpp"
#include "nats/store/engine_config.hpp"
#include "nats/store/registry.hpp"

namespace uni::nats {

class BossHeartbeat {
 public:
  // `max_seq` and `entry` are called on the heartbeat's thread: the highest
  // id the session handed out so far, and the boss's entry now; `answered`
  // each time the entry was put. The buckets are opened there too, so a
  // boss starts no slower.
  BossHeartbeat(JetStream& js, const EngineConfig& config, std::uint64_t session,
                std::function<std::uint64_t()> max_seq, std::function<BossEntry()> entry,
                std::function<void()> answered = {});
  ~BossHeartbeat();
  BossHeartbeat(const BossHeartbeat&) = delete;
  BossHeartbeat& operator=(const BossHeartbeat&) = delete;

 private:
  void loop();

  JetStream& js_;
  const EngineConfig& config_;
  const std::uint64_t session_;
  std::function<std::uint64_t()> max_seq_;
  std::function<BossEntry()> entry_;
  std::function<void()> answered_;
  std::mutex mutex_;
  std::condition_variable stop_;
  bool stopping_ = false;
  std::thread thread_;  // last: started once the rest is ready
};

}  // namespace uni::nats
