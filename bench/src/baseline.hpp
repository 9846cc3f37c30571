// The transport's own limit, measured in the same run as the workloads: a raw
// ZeroMQ 3-hop with CURVE on and no uni logic.
//
//   client DEALER --> broker ROUTER (front) | broker ROUTER (back) --> worker DEALER
//                 <--                       |                     <--
//
// Client, broker and worker each run in their own thread with their own
// ZeroMQ context (one I/O thread each), like a boss, a manager and a worker
// in their own processes. Every hop carries one frame of `message_bytes`
// (a few dozen bytes, like an `ident` task or result), so a round trip is
// four CURVE messages, as a task is in uni with one message per task.
#pragma once

#include <cstddef>

namespace bench {

struct BaselineRate {
  double per_s = 0;  // pipelined round trips per second
  std::size_t messages = 0;
  std::size_t window = 0;  // round trips in flight
};

struct BaselineLatency {
  double p50_us = 0, p99_us = 0, mean_us = 0;
  std::size_t round_trips = 0;
};

class Baseline {
 public:
  static constexpr std::size_t kMessageBytes = 48;

  // Starts the three threads and waits until the CURVE handshakes are done.
  Baseline();
  ~Baseline();
  Baseline(const Baseline&) = delete;
  Baseline& operator=(const Baseline&) = delete;

  // (a) `messages` round trips with up to `window` in flight.
  BaselineRate rate(std::size_t messages, std::size_t window = 1000);
  // (b) `round_trips` sequential round trips (after `warmup` unmeasured ones)
  // of messages of `bytes` bytes.
  BaselineLatency latency(std::size_t round_trips, std::size_t warmup = 200,
                          std::size_t bytes = kMessageBytes);

 private:
  struct Impl;
  Impl* impl_;
};

// A round trip of the same message size over a socketpair to another process
// (`cat` echoing it back): the cost process isolation adds per task at best,
// the supervisor -> executor -> supervisor hop.
BaselineLatency socketpair_latency(std::size_t round_trips, std::size_t warmup = 200);

}  // namespace bench
