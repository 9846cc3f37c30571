// Reading a SUBMIT. A message with a record that does not decode (an empty
// function name, a field out of range, not a record at all) is refused
// whole at that record: decoding stops there, with one error, so a SUBMIT
// of a million bad records costs what reading up to the first one costs.
// Every record whose id reads is answered, by its id, with a `rejected`
// result, so that no boss waits for ever on a task the manager refused
// (docs/protocol.md, SUBMIT).
#pragma once

#include <string>
#include <vector>

#include "proto/messages.hpp"

namespace uni::manager {

struct Submission {
  std::vector<proto::Task> tasks;  // every record, when all of them decode
  // Otherwise: what was wrong ("SUBMIT refused: task 3 of 10: empty function
  // name; ..."), and the ids of the records whose id reads.
  std::string error;
  std::vector<proto::TaskId> refused;

  // Every id it names: those of the tasks and of the refused records.
  std::vector<proto::TaskId> ids() const {
    std::vector<proto::TaskId> out;
    out.reserve(tasks.size() + refused.size());
    for (const proto::Task& t : tasks) out.push_back(t.id);
    out.insert(out.end(), refused.begin(), refused.end());
    return out;
  }
};

// Throws proto::DecodeError if the message holds no array of tasks at all.
Submission read_submission(const proto::Message& submit);

}  // namespace uni::manager
