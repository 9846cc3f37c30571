// The messages of a worker's result path, packed: the final results of one
// boss session to a message, and tasks queued again (given back, or to retry)
// to a message, each within the byte and task limits of a message. Every
// message is kept until the stream stored it, so that it can be retried whole.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "nats/store/names.hpp"
#include "nats/store/task_queue.hpp"
#include "proto/messages.hpp"

namespace uni::nats {

struct StoreMessage {
  std::string subject, data, msg_id;
  std::vector<proto::Result> results;     // final results it carries
  std::vector<std::uint64_t> requeue_of;  // tasks queued again: the batch each came in
};

// Names each message's id: the worker's id and a counter it keeps.
struct MessageIds {
  const std::string& worker;
  std::uint64_t& published;
};

// Tasks to put back in the queue, and the batch each came in.
struct Requeues {
  std::vector<proto::Task> tasks;
  std::vector<std::uint64_t> from_batch;
};

// Final results by the identity that submitted their tasks ("" for none)
// and boss session: each key is one result subject.
using ResultsBySession =
    std::map<std::pair<std::string_view, std::uint64_t>, std::vector<proto::Result>>;

// Appends to `out` the messages for `tasks` of `owner` (from_batch[i]: the
// batch tasks[i] came in), at most `max_tasks` and about `max_bytes` each,
// on the owner's requeue subject (Names::requeue_subject).
void pack_requeues(const std::vector<proto::Task>& tasks,
                   const std::vector<std::uint64_t>& from_batch, const TaskQueue& queue,
                   const std::string& owner, std::size_t max_tasks, std::size_t max_bytes,
                   MessageIds ids, std::vector<StoreMessage>& out);

// Appends to `out` the messages for each session's results, about
// `max_bytes` each (a result larger than that goes alone).
void pack_results(ResultsBySession& by_session, const Names& names, std::size_t max_bytes,
                  MessageIds ids, std::vector<StoreMessage>& out);

}  // namespace uni::nats
