// Results on JetStream, one subject per boss session. Tasks outlive their boss
//: a result is stored in a limits stream (kept for max_age), so
// `uni result ID` finds it after the boss that submitted it has exited, and a
// reconnecting boss replays what it missed; a boss that is there receives it
// at once through a plain subscription to the same subject (no consumer in
// the way). A worker publishes a batch of results as one RESULT message of
// the protocol (proto::encode_results) and acks its tasks only once the stream
// has stored them. Results may arrive twice (a redelivered task ran twice):
// deduplicate by task id. A connection with a NATS identity (a user or an
// nkey) keeps its results on uni.results.<identity>.<session> and reads
// them back through a consumer whose filter is in its API subject
// (read_subject), so that permissions can hold each boss to its own.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "nats/client/jetstream.hpp"
#include "nats/store/names.hpp"
#include "proto/messages.hpp"

namespace uni::nats {

struct ResultStreamConfig {
  int replicas = 1;
  // How long a result can be fetched with `uni result` after it was stored.
  std::chrono::milliseconds max_age{std::chrono::hours(24)};
  std::int64_t max_bytes = -1;
  std::chrono::milliseconds duplicate_window{120000};
};

// Results as they came in one stored message.
struct StoredResults {
  std::uint64_t stream_seq = 0;
  std::vector<proto::Result> results;
};

// A boss's live subscription to its session's results; read from one thread.
class ResultFeed {
 public:
  explicit ResultFeed(Subscription subscription) : subscription_(std::move(subscription)) {}
  // The results of the next message, or empty if none came within `wait`.
  // Messages that are not RESULT messages are logged and skipped.
  std::vector<proto::Result> next(std::chrono::milliseconds wait);

 private:
  Subscription subscription_;
};

class ResultStream {
 public:
  static ResultStream open(JetStream& js, const Names& names,
                           const ResultStreamConfig& config = {});
  // A handle on the stream as it is, created by someone else (its settings
  // are left alone).
  static ResultStream bind(JetStream& js, const Names& names) {
    return ResultStream(js, names, names.result_stream());
  }

  // Stores the results (all of one session) as one message; retries
  // transient failures. `options.msg_id` should name the batch (a worker's id
  // and a counter) so a retried publish is stored once.
  PublishAck publish(std::uint64_t session, const std::vector<const proto::Result*>& results,
                     const PublishOptions& options = {});
  // The same for the tasks of another identity (a worker storing the results
  // of a boss's tasks: `owner` is named by the subject of their message).
  PublishAck publish(const std::string& owner, std::uint64_t session,
                     const std::vector<const proto::Result*>& results,
                     const PublishOptions& options = {});

  // Subscribe before submitting: results published from then on arrive.
  ResultFeed subscribe(std::uint64_t session);
  // Stored results of the session from stream sequence `from` on (replay
  // after a reconnect: pass the last sequence seen + 1).
  std::vector<StoredResults> read(std::uint64_t session, std::uint64_t from = 1);
  // The stored result of one task (the latest, if it ran twice); nullopt if
  // none is stored (not finished, expired, or never submitted). Reads the
  // session's results: O(results of that session).
  std::optional<proto::Result> find(const proto::TaskId& id);
  // find(), waiting up to `wait` for the result to arrive.
  std::optional<proto::Result> wait_for(const proto::TaskId& id, std::chrono::milliseconds wait);

  const std::string& stream() const { return stream_; }

 private:
  ResultStream(JetStream& js, const Names& names, std::string stream)
      : js_(&js), names_(names), stream_(std::move(stream)), owner_(js.connection().identity()) {}
  JetStream* js_;
  Names names_;
  std::string stream_;
  std::string owner_;  // this connection's identity: whose results it reads
};

// Decodes a RESULT message. Throws proto::DecodeError.
std::vector<proto::Result> decode_result_batch(std::string_view data);

}  // namespace uni::nats
