// Reading a SUBMIT task by task. One task record that does not decode (an
// empty function name, a field out of range) must not sink the whole message:
// the manager answers that task, by its id, with a `rejected` result, and
// takes the others, so that no boss waits for ever on a task the manager
// refused (docs/protocol.md, SUBMIT).
#pragma once

#include <string>
#include <vector>

#include "proto/messages.hpp"

namespace uni::manager {

struct RefusedTask {
  proto::TaskId id;
  std::string why;  // the decoder's message: "task: empty function name"
};

struct Submission {
  std::vector<proto::Task> tasks;         // the records that decoded
  std::vector<RefusedTask> refused;       // records that did not, but whose id reads
  std::vector<std::string> unanswerable;  // records without even an id: why each failed

  // Every id it names: those of the tasks and of the refused records.
  std::vector<proto::TaskId> ids() const {
    std::vector<proto::TaskId> out;
    out.reserve(tasks.size() + refused.size());
    for (const proto::Task& t : tasks) out.push_back(t.id);
    for (const RefusedTask& r : refused) out.push_back(r.id);
    return out;
  }
};

// Throws proto::DecodeError if the message holds no array of tasks at all.
Submission read_submission(const proto::Message& submit);

}  // namespace uni::manager
