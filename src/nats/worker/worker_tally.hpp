// What a NATS worker did since it started, for its registry entry: results
// stored by status, tasks queued again, and the rate of finished tasks over
// the last 10 s. There is no manager to count for the cluster: `uni status`
// sums the live workers' tallies (docs/scale-out.md section 6).
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <utility>

#include "nats/store/registry.hpp"
#include "proto/status.hpp"

namespace uni::nats {

struct WorkerTally {
  std::uint64_t completed = 0, failed = 0, cancelled = 0, requeued = 0;
  std::int64_t started_ms = unix_ms_now();

  // A stored result, as the manager counts it: `failed` is every status but
  // ok and cancelled (a cancelled task was stopped; it did not fail).
  void count(proto::Status status) {
    if (status == proto::Status::kOk) ++completed;
    else if (status == proto::Status::kCancelled) ++cancelled;
    else ++failed;
  }

  // Finished tasks per second over the last 10 s, sampled at each call (the
  // worker's heartbeat, every second).
  double rate_now(std::chrono::steady_clock::time_point now = std::chrono::steady_clock::now()) {
    samples_.emplace_back(now, completed + failed);
    while (samples_.size() > 2 && now - samples_.front().first > std::chrono::seconds(10))
      samples_.pop_front();
    if (samples_.size() < 2) return 0;
    double seconds =
        std::chrono::duration<double>(samples_.back().first - samples_.front().first).count();
    return seconds > 0
               ? static_cast<double>(samples_.back().second - samples_.front().second) / seconds
               : 0;
  }

 private:
  std::deque<std::pair<std::chrono::steady_clock::time_point, std::uint64_t>> samples_;
};

}  // namespace uni::nats
