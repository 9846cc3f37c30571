// Protocol errors a peer may make before the manager closes its connection:
// a few in a row are a bug worth answering (ERROR "malformed" says what was
// wrong), a stream of them is a peer that costs the manager a decode and a
// log line each. A token bucket per peer: kBurst errors at once, one more
// every kRefill; the peer that has none left is cut off (manager.cpp). The
// bucket outlives the connection, so a peer that reconnects and carries on
// is cut off at its first error.
#pragma once

#include <chrono>
#include <unordered_map>

#include "manager/outbox.hpp"

namespace uni::manager {

class ErrorBudget {
 public:
  static constexpr int kBurst = 10;
  static constexpr std::chrono::seconds kRefill{6};

  // Charges one error to `peer`; true when it had none left.
  bool charge(const PeerId& peer, Clock::time_point now) {
    Bucket& b = buckets_[peer];
    refill(b, now);
    if (b.tokens == 0) return true;
    --b.tokens;
    return false;
  }
  // Forgets peers whose bucket is full again (from the timer).
  void prune(Clock::time_point now) {
    for (auto it = buckets_.begin(); it != buckets_.end();) {
      refill(it->second, now);
      if (it->second.tokens == kBurst) it = buckets_.erase(it);
      else ++it;
    }
  }
  bool empty() const { return buckets_.empty(); }

 private:
  struct Bucket {
    int tokens = kBurst;
    Clock::time_point refilled{};
  };
  static void refill(Bucket& b, Clock::time_point now) {
    if (b.refilled == Clock::time_point{}) b.refilled = now;
    auto earned = (now - b.refilled) / kRefill;
    if (earned <= 0) return;
    b.tokens = static_cast<int>(std::min<long long>(kBurst, b.tokens + earned));
    b.refilled += earned * kRefill;
  }
  std::unordered_map<PeerId, Bucket> buckets_;
};

}  // namespace uni::manager
