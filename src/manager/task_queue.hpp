// The queue of tasks waiting for a worker: one FIFO lane per boss and
// platform, served round-robin so that one boss's burst of 100,000 tasks does
// not starve another boss's ten. Holds task ids only; the manager's task table
// holds the tasks. Entries are removed lazily: a cancelled or failed task
// stays in its lane until popped, and the caller skips it.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <unordered_map>
#include <vector>

#include "proto/messages.hpp"

namespace uni::manager {

class TaskQueue {
 public:
  // `front`: a requeued task goes ahead of its lane, it has waited already.
  void push(std::uint16_t platform, std::uint64_t session, const proto::TaskId& id, bool front);
  // Next task for a worker of this platform, round-robin over bosses.
  std::optional<proto::TaskId> pop(std::uint16_t platform);
  bool empty(std::uint16_t platform) const;

 private:
  // A lane holds one session's tasks: the sequence numbers suffice (8 bytes
  // a task instead of 16, at a million queued tasks it counts).
  struct Lane {
    std::deque<std::uint64_t> seqs;
  };
  struct PlatformQueue {
    std::unordered_map<std::uint64_t, Lane> lanes;  // by boss session
    std::deque<std::uint64_t> ring;                 // sessions with a non-empty lane
  };
  std::vector<PlatformQueue> platforms_;  // by platform index
};

}  // namespace uni::manager
