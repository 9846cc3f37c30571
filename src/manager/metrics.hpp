// What the manager measures besides its counters: histograms of
// task run time and queue wait, tasks finished per second over the last
// minutes, and the most recent failures. The core updates them on its own
// thread; a MetricsSnapshot is a copy the HTTP thread may read at leisure,
// rendered here as Prometheus text.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "manager/outbox.hpp"
#include "proto/status.hpp"

namespace uni::manager {

// A Prometheus histogram with fixed bounds, in seconds. Observing costs a
// scan of 16 bounds: nothing beside what a task costs the manager (~µs).
class Histogram {
 public:
  static constexpr std::array<double, 16> kBounds = {
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
  void observe(Clock::duration d) {
    double seconds = std::chrono::duration<double>(d).count();
    std::size_t i = 0;
    while (i < kBounds.size() && seconds > kBounds[i]) ++i;
    ++counts_[i];  // counts_[kBounds.size()]: above the last bound (+Inf only)
    sum_ += seconds;
    ++count_;
  }
  // Cumulative count of observations <= kBounds[i]; i == kBounds.size(): all.
  std::uint64_t cumulative(std::size_t i) const {
    std::uint64_t n = 0;
    for (std::size_t j = 0; j <= i; ++j) n += counts_[j];
    return n;
  }
  double sum() const { return sum_; }
  std::uint64_t count() const { return count_; }

 private:
  std::array<std::uint64_t, kBounds.size() + 1> counts_{};
  double sum_ = 0;
  std::uint64_t count_ = 0;
};

// Tasks finished (any status) per second, one sample a second, for the last
// kSeconds: the dashboard's chart and `uni status`'s tasks/s.
class ThroughputHistory {
 public:
  static constexpr std::size_t kSeconds = 300;
  // Called from the timer; takes a sample when a second has passed.
  void tick(Clock::time_point now, std::uint64_t finished_total);
  // Tasks per second over the last `seconds`, the second under way included
  // (less just after a start); `finished_total` as tick() takes it.
  double rate(Clock::time_point now, std::uint64_t finished_total, std::size_t seconds) const;
  // Per-second counts, oldest first (at most kSeconds).
  std::vector<std::uint64_t> per_second() const;

 private:
  Clock::time_point next_{};
  std::uint64_t last_total_ = 0;
  std::deque<std::uint64_t> per_second_;
};

// The last kKept tasks that ended with a status other than ok.
class RecentFailures {
 public:
  static constexpr std::size_t kKept = 20;
  void add(proto::StatusReport::Failure failure, Clock::time_point when);
  std::vector<proto::StatusReport::Failure> list(Clock::time_point now) const;  // newest first

 private:
  std::deque<std::pair<Clock::time_point, proto::StatusReport::Failure>> failures_;
};

// Each of the manager's limits that refuses something (docs/security.md §8),
// counted for STATUS (`limits.refused`) and /metrics.
enum class Refusal : std::uint8_t {
  kTooLarge,          // messages over --max-message
  kMalformed,         // messages that do not decode, or of another protocol version
  kClosed,            // connections closed after too many protocol errors
  kBusy,              // chunked messages refused: the runs under way held too much
  kQueueFull,         // tasks answered queue-full: --max-tasks
  kQueuedBytes,       // tasks answered queue-full: --max-queued-bytes
  kHello,             // worker HELLOs refused: more held tasks than its slots allow
  kDetachedExpired,   // detached tasks dropped: their boss left before their module came
  kHandshakesShed,    // connections closed: too many handshakes under way at once
  kHandshakesFailed,  // handshakes that failed: wrong key, refused key, timed out
};
inline constexpr std::size_t kRefusals = 10;
const char* refusal_name(Refusal refusal);  // "too-large", "malformed", ...

// What the manager's transport knows and its core does not (manager.cpp
// hands it over on the timer): descriptors, connections, handshakes.
struct TransportCounts {
  std::uint64_t descriptors = 0, descriptor_limit = 0, connections = 0;
  std::uint64_t assembling_bytes = 0;
  std::uint64_t handshakes_shed = 0, handshakes_failed = 0;
};

struct ManagerMetrics {
  Histogram run_time;    // assigned to a worker -> its result (per run that ended the task)
  Histogram queue_wait;  // submitted (or last assigned) -> assigned; once per assignment
  ThroughputHistory throughput;
  RecentFailures failures;
  std::array<std::uint64_t, kRefusals> refused{};
  TransportCounts transport;
};

// What the HTTP thread serves: a copy made by the manager's loop.
struct MetricsSnapshot {
  proto::StatusReport status;
  Histogram run_time, queue_wait;
  std::vector<std::uint64_t> per_second;  // ThroughputHistory::per_second()
};

// The Prometheus text exposition format (version 0.0.4) of a snapshot:
// every metric named uni_..., with HELP and TYPE, units in the names.
std::string prometheus_text(const MetricsSnapshot& snapshot);

}  // namespace uni::manager
