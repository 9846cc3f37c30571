// Publishing many messages to JetStream without waiting for each stream
// acknowledgement (a boss submitting a map, a worker's results): up to
// max_pending in flight, each with a max wait so that a publish whose server
// died fails instead of pending for ever, and finish() republishes
// what failed transiently (no responders during a leader election, timeouts)
// with the same message id, so nothing is lost and nothing stored twice.
// A publish may carry a callback, called on nats.c's thread once its message
// is stored (or refused for good), so that a caller can act per message
// without waiting for all (a worker acks a batch of tasks once their results
// are stored). publish() and finish() may be called from different threads.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "nats/client/connection.hpp"

namespace uni::nats {

struct AsyncPublishConfig {
  int max_pending = 4096;                       // publish() blocks while this many are unanswered
  std::chrono::milliseconds ack_timeout{5000};  // per message
  std::chrono::milliseconds retry_for{30000};   // finish() gives up after this much retrying
};

class NatsError;

class AsyncPublisher {
 public:
  // Called once per message on nats.c's thread: `failure` null when the
  // stream stored it, else why it was refused for good. A transient failure
  // is not reported: the message waits for finish() or retry_failed().
  using OnStored = std::function<void(const NatsError* failure)>;

  AsyncPublisher(Connection& connection, const AsyncPublishConfig& config = {});
  ~AsyncPublisher();
  AsyncPublisher(const AsyncPublisher&) = delete;
  AsyncPublisher& operator=(const AsyncPublisher&) = delete;

  // Sends one message; `msg_id` (required) deduplicates its retries.
  // Throws NatsError if it cannot even be sent (e.g. over the max payload).
  void publish(const std::string& subject, std::string_view data, const std::string& msg_id);
  // The same, calling `on_stored` when the stream answered for good (msg_id
  // must be unique among the messages in flight).
  void publish(const std::string& subject, std::string_view data, const std::string& msg_id,
               OnStored on_stored);
  // Republishes the messages that failed transiently so far, without
  // waiting; returns how many. For callers that do not finish().
  std::size_t retry_failed();
  std::size_t failed_count() const;  // waiting for retry_failed() or finish()
  // No callback is called after this returns (for an owner about to go).
  void forget_callbacks();
  // Waits until everything published so far is stored, republishing what
  // failed transiently. Returns how many republishes it took. Throws NatsError
  // if a stream refused a message for good (e.g. its limits) or some are
  // still not stored after retry_for.
  std::size_t finish();
  // The same, giving up after `retry_for` instead of the configured limit
  // (a caller that is closing, or that republishes later itself).
  std::size_t finish(std::chrono::milliseconds retry_for);

  std::uint64_t stored() const;  // acknowledged by a stream so far

  struct State;  // internal; named here so that nats.c's callback can reach it

 private:
  std::unique_ptr<State> state_;
};

}  // namespace uni::nats
