// The messages of a worker's result path, packed: the final results of one
// boss session to a message, and tasks queued again (given back, or to retry)
// to a message, each within the byte and task limits of a message. Every
// message is kept until the stream stored it, so that it can be retried whole.
#pragma once

#include <cstdint>
#include <map>
#include <string>
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

// Appends to `out` the messages for `tasks` (from_batch[i]: the batch
// tasks[i] came in), at most `max_tasks` and about `max_bytes` each.
void pack_requeues(const std::vector<proto::Task>& tasks,
                   const std::vector<std::uint64_t>& from_batch, const TaskQueue& queue,
                   std::size_t max_tasks, std::size_t max_bytes, MessageIds ids,
                   std::vector<StoreMessage>& out);

// Appends to `out` the messages for each session's results, about
// `max_bytes` each (a result larger than that goes alone).
void pack_results(std::map<std::uint64_t, std::vector<proto::Result>>& by_session,
                  const Names& names, std::size_t max_bytes, MessageIds ids,
                  std::vector<StoreMessage>& out);

}  // namespace uni::nats
