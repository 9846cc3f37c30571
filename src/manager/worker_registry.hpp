// The manager's registry of workers: who is connected, on which platform,
// with how much credit, holding which tasks; the platforms seen and how many
// workers serve each; the short lists of workers with room for tasks and with
// output to send, so that a turn of the loop costs what happened in it, not
// the number of workers. Reconciling a worker's HELLO (the tasks it
// re-announces) yields decisions, which the core applies to the task table.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "common/identity.hpp"
#include "manager/outbox.hpp"
#include "proto/messages.hpp"

namespace uni::manager {

class TaskTable;

struct Worker {
  PeerId peer;
  std::string id, host, isolation;
  // Its key, and the secret of its HELLO: a later HELLO claiming its id is
  // the same worker reconnecting only with both (docs/security.md §4).
  std::shared_ptr<const Identity> identity;
  std::string secret;
  std::uint32_t pid = 0, slots = 1, capacity = 1;
  std::uint32_t executing = 0;  // as its last HEARTBEAT said
  std::string note;             // why it takes no tasks, as its last HEARTBEAT said; or empty
  std::uint16_t platform = 0;
  // Platforms it serves beside `platform` (a capability added: the Python
  // runtime's "+python311"); dispatch serves `platform` first.
  std::vector<std::uint16_t> also_platforms;
  std::unordered_set<proto::TaskId, proto::TaskIdHash> inflight;  // assigned to it
  Clock::time_point last_seen{};
  Clock::time_point joined{};
  Clock::time_point last_heartbeat{};       // joined, until its first HEARTBEAT
  std::uint64_t completed = 0, failed = 0;  // its results: ok, other (crashes included)
  std::vector<proto::TaskId> tasks_out;     // assigned this turn, to send
  std::vector<proto::TaskId> acks_out;      // results received this turn, to acknowledge
  bool listed_room = false, listed_output = false;

  bool has_room() const { return inflight.size() < capacity; }
  // Tasks executing: what its heartbeat said, bounded by what it holds.
  std::size_t busy() const { return std::min<std::size_t>(executing, inflight.size()); }
};

// What a worker listed in its HELLO, and the tasks the manager believed it
// held, sorted by what the manager knows of them. Which of them the worker
// may keep is the core's rule (manager_core_claims.cpp).
struct Reconciliation {
  std::vector<proto::TaskId> never_arrived;  // assigned to it, not held: requeue, no attempt
  std::vector<proto::RunningTask> unknown;   // not in the table (the manager restarted?)
  std::vector<proto::TaskId> stopping;       // its own, being stopped: send CANCEL again
  std::vector<proto::RunningTask> waiting;   // in the table, waiting, not assigned to it
  std::vector<proto::TaskId> duplicates;     // done, or running elsewhere: stop its copy
};

class WorkerRegistry {
 public:
  Worker* find(const PeerId& peer) {
    auto it = workers_.find(peer);
    return it == workers_.end() ? nullptr : it->second.get();
  }
  // The live worker of this id (HELLO's), whatever its connection.
  Worker* find_id(const std::string& worker_id) {
    auto it = by_id_.find(worker_id);
    return it == by_id_.end() ? nullptr : it->second;
  }
  bool empty() const { return workers_.empty(); }

  // A worker's HELLO: a new worker, or (a known peer) the same worker
  // process reconnecting. `known` says which.
  struct Joined {
    Worker& worker;
    bool known;
  };
  Joined join(const PeerId& peer, const proto::Hello& hello, Clock::time_point now);
  Reconciliation reconcile(const Worker& w, const std::vector<proto::RunningTask>& held,
                           const TaskTable& table) const;
  // The worker reconnected on another connection (the same key and secret):
  // its record, tasks and counters move there.
  void rebind(Worker& w, const PeerId& peer);
  // Forgets a worker whose tasks have been dealt with; `w` is gone after.
  void remove(Worker& w);

  void set_credit(Worker& w, std::uint32_t capacity);
  std::vector<Worker*> silent_since(Clock::time_point cutoff) const;
  std::vector<const Worker*> oldest_first() const;
  template <class F>
  void for_each(F&& f) const {
    for (const auto& [peer, w] : workers_) f(*w);
  }

  // ---- platforms ----
  std::uint16_t platform_index(const std::string& platform);
  const std::string& platform_name(std::uint16_t index) const { return platforms_[index]; }
  std::size_t workers_for(std::uint16_t platform) const {
    return platform < per_platform_.size() ? per_platform_[platform] : 0;
  }
  // "platform P", and what a worker needs to serve it when the tag names a
  // capability ("+python311"): for "no worker" notices and failures.
  std::string platform_need(std::uint16_t platform) const;

  // ---- short lists ----
  void note_room(Worker& w);
  void note_output(Worker& w);
  std::vector<Worker*>& with_room() { return with_room_; }
  // Drops from the room list the workers that have none left.
  void prune_room();
  // Calls f(worker) for each worker with TASKS or ACK to send, and empties
  // the list (f may list workers again: they wait for the next turn).
  template <class F>
  void drain_output(F&& f) {
    draining_.swap(with_output_);
    for (Worker* w : draining_) {
      w->listed_output = false;
      f(*w);
    }
    draining_.clear();
  }

 private:
  std::unordered_map<PeerId, std::unique_ptr<Worker>> workers_;
  std::unordered_map<std::string, Worker*> by_id_;  // by HELLO id
  std::vector<std::string> platforms_;
  std::vector<std::size_t> per_platform_;  // workers by platform index
  std::vector<Worker*> with_room_;         // may take tasks
  std::vector<Worker*> with_output_;       // have TASKS or ACK to send
  std::vector<Worker*> draining_;          // with_output_ being drained
};

}  // namespace uni::manager
