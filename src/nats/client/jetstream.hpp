// The JetStream context of a connection: streams (created or brought to the
// wanted configuration), publishing that rides out a leader election (retry
// with backoff and a message id, so a retried publish is stored once), and
// reading stored messages directly. The uni objects (task queue, results,
// cancels, modules, buckets) are built on this.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "nats/client/connection.hpp"
#include "nats/client/error.hpp"
#include "nats/client/handles.hpp"
#include "nats/client/message.hpp"

namespace uni::nats {

enum class Retention { kLimits, kWorkQueue, kInterest };

struct StreamConfig {
  std::string name;
  std::string description;
  std::vector<std::string> subjects;
  Retention retention = Retention::kLimits;
  // 0: as many as the cluster offers, up to kDefaultReplicas (an existing
  // stream keeps more, and one with fewer is raised when the cluster can).
  int replicas = 1;
  bool memory_storage = false;  // default: file storage, survives a restart
  std::int64_t max_msgs = -1, max_bytes = -1, max_msgs_per_subject = -1;
  std::int32_t max_msg_size = -1;
  std::chrono::milliseconds max_age{0};  // 0: kept for ever (or until the limits)
  bool discard_new = false;              // at a limit, refuse new messages instead of dropping old
  // Publishes with the same message id within this window are stored once;
  // 0 leaves the server's default (2 minutes).
  std::chrono::milliseconds duplicate_window{0};
  bool allow_rollup = false;
  bool allow_direct = false;  // reads served by any replica (js_DirectGetMsg)
};

struct StreamState {
  std::uint64_t messages = 0, bytes = 0, first_seq = 0, last_seq = 0;
  std::int64_t consumers = 0;
  std::string leader;  // server name of the stream's leader ("" on a single server)
  int replicas = 1;
};

struct PublishOptions {
  std::string msg_id;  // Nats-Msg-Id: deduplication within the stream's window
  std::vector<std::pair<std::string, std::string>> headers;
  std::chrono::milliseconds ack_timeout{5000};  // for the stream's answer to one try
  // How long transient failures (no responders, timeouts, a lost connection:
  // a stream between leaders) are retried, with backoff from 25 ms to 1 s;
  // 0 makes one try. Retrying without a msg_id may store a message twice.
  std::chrono::milliseconds retry_for{30000};
};

struct PublishAck {
  std::string stream;
  std::uint64_t sequence = 0;
  bool duplicate = false;  // the stream had it already (same msg id): stored once
  int attempts = 1;
};

// Replicas uni gives a stream where the cluster has that many JetStream
// nodes: a quorum (two) survives the loss of any one node.
inline constexpr int kDefaultReplicas = 3;

// Safe to use from several threads, as nats.c's jsCtx is; the objects built
// on it (queues, stores, buckets) are too, except where they say otherwise.
class JetStream {
 public:
  // `api_timeout` bounds each JetStream API request (stream and consumer
  // management, direct reads).
  explicit JetStream(Connection& connection,
                     std::chrono::milliseconds api_timeout = std::chrono::seconds(5));

  jsCtx* get() const { return js_.get(); }
  Connection& connection() const { return *connection_; }
  std::chrono::milliseconds api_timeout() const { return api_timeout_; }

  // Creates the stream, or updates it when it exists with another
  // configuration. Throws NatsError (e.g. replicas above the cluster's size,
  // when they were given).
  StreamState ensure_stream(const StreamConfig& config);
  // For a stream made by nats.c (a KV bucket's) and replicas 0: raises its
  // replicas towards kDefaultReplicas as far as the cluster allows; never
  // lowers them. Throws NatsError.
  void raise_replicas(const std::string& stream);
  // The replicas to try first for replicas 0: kDefaultReplicas, or 1 once
  // the server said it is not clustered.
  int auto_replicas() const { return auto_replicas_.load(); }
  // Whether `error` means the cluster has too few nodes for the replicas
  // asked (noting a server that is not clustered at all).
  bool too_few_nodes(const NatsError& error);
  std::optional<StreamState> stream_state(const std::string& stream);
  void delete_stream(const std::string& stream);
  // Removes every message of `subject` from the stream.
  void purge_subject(const std::string& stream, const std::string& subject);

  PublishAck publish(const std::string& subject, std::string_view data,
                     const PublishOptions& options = {});

  // Stored messages, read without a consumer. nullopt when there is none.
  std::optional<Message> message(const std::string& stream, std::uint64_t sequence);
  std::optional<Message> last_message(const std::string& stream, const std::string& subject);
  // The first message of `subject` at or after `from_sequence` (direct get:
  // the stream needs allow_direct).
  std::optional<Message> next_message(const std::string& stream, const std::string& subject,
                                      std::uint64_t from_sequence);
  void delete_message(const std::string& stream, std::uint64_t sequence);
  // The same as next_message, asked of the stream's leader (no allow_direct
  // needed, never a lagging replica's view): for a reader that must see
  // every message the stream holds now. nullopt when there is none.
  struct Stored {
    std::uint64_t sequence = 0;
    std::string subject, data;
  };
  std::optional<Stored> next_stored(const std::string& stream, const std::string& subject,
                                    std::uint64_t from_sequence);

 private:
  jsOptions options() const;
  // One try with `replicas`; an existing stream with more keeps them when
  // `keep_more`.
  StreamState ensure_stream_with(const StreamConfig& config, int replicas, bool keep_more);
  Connection* connection_;
  std::atomic<int> auto_replicas_{kDefaultReplicas};
  std::chrono::milliseconds api_timeout_;
  JsContextHandle js_;
};

// A natsMsg ready to publish: subject, payload, headers.
MsgHandle make_message(const std::string& subject, std::string_view data,
                       const std::vector<std::pair<std::string, std::string>>& headers = {});

// Sleeps with exponential backoff and jitter for retry number `attempt` (1, 2, ...).
void backoff_sleep(int attempt);

}  // namespace uni::nats
