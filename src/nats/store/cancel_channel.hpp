// Cancels on JetStream. A boss publishes the ids it cancels (a CANCEL message
// of the protocol) on its session's cancel subject; the stream keeps them for
// max_age, so a worker that starts later, or fetches a cancelled task that was
// still queued, still knows. Each worker follows the whole stream with an
// ordered consumer (from the start, then live) and keeps the ids in memory:
// a running task is stopped, a queued one is termed with a "cancelled" result.
#pragma once

#include <chrono>
#include <cstdint>
#include <vector>

#include "nats/client/jetstream.hpp"
#include "nats/store/names.hpp"
#include "proto/messages.hpp"

namespace uni::nats {

struct CancelChannelConfig {
  int replicas = 1;
  // Longer than a task may wait in the queue, or a late worker runs it.
  std::chrono::milliseconds max_age{std::chrono::hours(24)};
};

// A worker's feed of cancels; read from one thread.
class CancelFeed {
 public:
  explicit CancelFeed(Subscription subscription) : subscription_(std::move(subscription)) {}
  // The ids of the next cancel message, or empty if none came within `wait`.
  std::vector<proto::TaskId> next(std::chrono::milliseconds wait);

 private:
  Subscription subscription_;
};

class CancelChannel {
 public:
  static CancelChannel open(JetStream& js, const Names& names,
                            const CancelChannelConfig& config = {});
  // A handle with no request: the stream is made by open(), elsewhere or later.
  static CancelChannel bind(JetStream& js, const Names& names) {
    return CancelChannel(js, names, names.cancel_stream());
  }

  // Stores a cancel of `ids` (all of one session); retries transient failures.
  PublishAck cancel(std::uint64_t session, const std::vector<proto::TaskId>& ids,
                    const PublishOptions& options = {});
  // Every stored cancel from the oldest on, then new ones as they come.
  CancelFeed follow();

 private:
  CancelChannel(JetStream& js, const Names& names, std::string stream)
      : js_(&js), names_(names), stream_(std::move(stream)) {}
  JetStream* js_;
  Names names_;
  std::string stream_;
};

}  // namespace uni::nats
