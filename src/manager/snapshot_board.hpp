// The handoff between the manager's loop and its HTTP thread: the loop
// publishes a copy of its state (MetricsSnapshot) at most every
// kPublishEvery, and only while someone reads them; readers never touch the
// manager's own state. The only lock is taken once per publish and once per
// HTTP request, never per task.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>

#include "manager/metrics.hpp"

namespace uni::manager {

class SnapshotBoard {
 public:
  static constexpr std::chrono::milliseconds kPublishEvery{250};
  // Readers that stop asking stop the copies after this.
  static constexpr std::chrono::seconds kInterestLasts{10};

  // The loop (its timer): whether to publish a fresh snapshot now.
  bool wanted(Clock::time_point now) const {
    std::lock_guard lock(mutex_);
    if (now - last_read_ > kInterestLasts && latest_) return false;
    return now - published_ >= kPublishEvery;
  }
  void publish(MetricsSnapshot snapshot, Clock::time_point now) {
    auto fresh = std::make_shared<const MetricsSnapshot>(std::move(snapshot));
    {
      std::lock_guard lock(mutex_);
      latest_ = std::move(fresh);
      published_ = now;
    }
    arrived_.notify_all();
  }

  // An HTTP thread: the latest snapshot, waiting (at most `patience`) for
  // one younger than kPublishEvery * 2 if the loop had stopped publishing
  // for lack of readers. Null only if the loop published nothing in time.
  std::shared_ptr<const MetricsSnapshot> read(std::chrono::milliseconds patience) {
    std::unique_lock lock(mutex_);
    Clock::time_point now = Clock::now();
    last_read_ = now;
    auto fresh = [&] { return latest_ && Clock::now() - published_ < kPublishEvery * 2; };
    if (!fresh()) arrived_.wait_for(lock, patience, fresh);
    return latest_;
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable arrived_;
  std::shared_ptr<const MetricsSnapshot> latest_;
  Clock::time_point published_{};
  Clock::time_point last_read_{};
};

}  // namespace uni::manager
