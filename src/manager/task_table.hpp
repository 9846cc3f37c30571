// The manager's task table: every task it holds, in which state, and the
// indexes over them — the queue, tasks waiting for a module, wait deadlines,
// the recovery window after a start, attempt logs, counts per state, the
// services, and each boss session's tasks and finished tasks. State changes
// never send anything: what others must do about them (route a result, stop
// a task on its worker, note a worker's room) goes into TableChanges, which
// the core (manager_core.cpp) applies.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <queue>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "manager/outbox.hpp"
#include "manager/task_queue.hpp"
#include "proto/messages.hpp"

namespace uni::manager {

class ModuleStore;
class WorkerRegistry;
struct Worker;

enum class TaskState : std::uint8_t {
  kWaitingModule,  // the manager lacks its module; the boss was asked for it
  kQueued,
  kRunning,       // assigned to a worker (running or prefetched there)
  kAwaitingBoss,  // known only from a worker's re-announcement, which lost it: needs the boss's
                  // resubmission
  kRecovering,    // resubmitted just after a manager start: waits for workers to re-announce it
  kDone,          // result waiting for the boss's ACK
};
inline constexpr std::size_t kTaskStates = 6;

struct TaskRecord {
  proto::Task task;
  TaskState state = TaskState::kWaitingModule;
  bool placeholder = false;  // args unknown (re-announced by a worker after a restart)
  bool started = false;      // a service its worker reported running
  bool stopping = false;     // CANCEL sent to its worker
  std::uint16_t platform = 0;
  // A service: how often it took on new code (BECOME). 16 bits fill the
  // padding before `worker`; the count stops at 65535.
  std::uint16_t becomes = 0;
  Worker* worker = nullptr;  // kRunning: the worker holding it
  std::unique_ptr<proto::Result> result;
  // Set by the core for the metrics: submitted, then assigned; a service's
  // start. Queue wait and run time are measured from it.
  Clock::time_point since{};
  // Its session's list of unfinished or of finished tasks (TaskTable::Session).
  TaskRecord* session_prev = nullptr;
  TaskRecord* session_next = nullptr;

  bool is(std::uint8_t flag) const { return (task.flags & flag) != 0; }
};

// What a change of the table asks of the rest of the manager. The records in
// `finished` stay valid until the core has applied the changes: the table
// erases a record only when asked to.
struct TableChanges {
  std::vector<TaskRecord*> finished;                     // done: its result goes to its boss
  std::vector<std::pair<Worker*, proto::TaskId>> stops;  // send CANCEL for it to that worker
  std::vector<Worker*> freed;                            // holds fewer tasks: may take more
  // Queued for a platform no connected worker serves: (session, platform).
  std::vector<std::pair<std::uint64_t, std::uint16_t>> unserved;
  std::vector<std::uint64_t> emptied;  // sessions whose last task is gone

  bool empty() const {
    return finished.empty() && stops.empty() && freed.empty() && unserved.empty() &&
           emptied.empty();
  }
};

struct TaskTotals {
  std::uint64_t submitted = 0, completed = 0, failed = 0, requeued = 0;
  std::uint64_t cancelled = 0;  // not counted in failed
};

class TaskTable {
 public:
  // `workers` is read for platform names and whether a platform has workers.
  TaskTable(ModuleStore& modules, const WorkerRegistry& workers,
            std::chrono::milliseconds recovery_window, Clock::time_point started);
  TaskTable(const TaskTable&) = delete;
  TaskTable& operator=(const TaskTable&) = delete;

  TaskRecord* find(const proto::TaskId& id) {
    auto it = tasks_.find(id);
    return it == tasks_.end() ? nullptr : &it->second;
  }
  const TaskRecord* find(const proto::TaskId& id) const {
    auto it = tasks_.find(id);
    return it == tasks_.end() ? nullptr : &it->second;
  }
  std::size_t size() const { return tasks_.size(); }
  // Bytes the tasks hold: their arguments and results, and a fixed cost per
  // record (--max-queued-bytes).
  std::uint64_t bytes() const { return bytes_; }
  static constexpr std::uint64_t kRecordBytes = 256;
  static std::uint64_t bytes_of(const proto::Task& task) { return kRecordBytes + task.args.size(); }
  std::size_t count(TaskState state) const { return counts_[static_cast<std::size_t>(state)]; }
  const std::set<proto::TaskId>& services() const { return services_; }  // not done, by id
  const TaskTotals& totals() const { return totals_; }

  // ---- arrivals ----
  // A boss's new task: attempt 1, its module pinned, its wait limit started.
  // With its module's platform it is queued (or held, if resubmitted within
  // the recovery window); without, it waits for the module.
  TaskRecord& add(proto::Task task, std::optional<std::uint16_t> platform, Clock::time_point now,
                  TableChanges& changes);
  // A task re-announced by worker `w` that the table does not know (the
  // manager restarted): a placeholder assigned to `w`, its args unknown.
  TaskRecord& adopt(const proto::RunningTask& announced, Worker& w);
  // The boss's resubmission of a placeholder brings its args and options.
  void fill_placeholder(TaskRecord& t, proto::Task task, TableChanges& changes);
  // A re-announced copy of a task that runs nowhere else: `w` keeps it.
  void take_over(TaskRecord& t, Worker& w);

  // ---- modules ----
  void module_arrived(const ModuleHash& hash, std::uint16_t platform, Clock::time_point now,
                      TableChanges& changes);
  // This session's tasks waiting for the module fail `rejected`; other
  // sessions' keep waiting, as another boss may still upload it.
  void module_refused(const ModuleHash& hash, std::uint64_t session, const std::string& error,
                      TableChanges& changes);

  // ---- the queue and the workers ----
  bool has_queued(std::uint16_t platform) const { return !queue_.empty(platform); }
  // The next queued task for a worker of this platform, or null.
  TaskRecord* next_queued(std::uint16_t platform);
  void assign(TaskRecord& t, Worker& w);
  void unassign(TaskRecord& t, TableChanges& changes);
  // Queues (or, lacking its args, parks) a task; false if it ended it instead.
  // `front`: it has waited already (requeued).
  bool enqueue(TaskRecord& t, bool front, TableChanges& changes);

  // ---- endings ----
  void complete(TaskRecord& t, proto::Result result, TableChanges& changes);
  void fail(TaskRecord& t, proto::Status status, std::string text, TableChanges& changes);
  // A run was lost (crash, lost worker): charge an attempt and requeue, or
  // fail with the story of its attempts.
  void attempt_failed(TaskRecord& t, const std::string& what, TableChanges& changes);
  void attempts_exhausted(TaskRecord& t, TableChanges& changes);
  proto::CancelState cancel(const proto::TaskId& id, TableChanges& changes);
  void erase(const proto::TaskId& id, TableChanges& changes);

  // ---- time ----
  // Fails tasks still unassigned past their wait limit.
  void expire_waits(Clock::time_point now, TableChanges& changes);
  // After the recovery window, what no worker re-announced is queued.
  void end_recovery(Clock::time_point now, TableChanges& changes);
  bool recovering(Clock::time_point now) const { return now < started_ + recovery_window_; }

  // ---- sessions: what a boss's arrival or departure costs is its own tasks ----
  // By id. Cost: the session's own tasks.
  std::vector<proto::TaskId> tasks_of(std::uint64_t session) const;
  std::vector<proto::TaskId> finished_of(std::uint64_t session) const;  // done, not acknowledged
  std::size_t count_of(std::uint64_t session) const;

 private:
  // A session's records, in two lists threaded through them: unfinished and
  // finished. Linking and unlinking touch only the record and its neighbours,
  // so the index costs no hash-table work per task on the hot path.
  struct Session {
    std::size_t live = 0, done = 0;
    TaskRecord* unfinished = nullptr;
    TaskRecord* finished = nullptr;
  };
  static void link(TaskRecord*& head, TaskRecord& t);
  static void unlink(TaskRecord*& head, TaskRecord& t);

  TaskRecord& insert(const proto::TaskId& id, const proto::Task& task);
  void set_state(TaskRecord& t, TaskState state);
  void admit(TaskRecord& t, Clock::time_point now, TableChanges& changes);
  void end_stopped(TaskRecord& t, TableChanges& changes);

  ModuleStore& modules_;
  const WorkerRegistry& workers_;
  std::unordered_map<proto::TaskId, TaskRecord, proto::TaskIdHash> tasks_;
  std::array<std::size_t, kTaskStates> counts_{};
  std::set<proto::TaskId> services_;
  std::unordered_map<std::uint64_t, Session> sessions_;
  TaskQueue queue_;
  std::unordered_map<ModuleHash, std::vector<proto::TaskId>> waiting_for_module_;
  // Failed attempts of tasks that have had one, for the final error: few
  // tasks ever have one, so the task records do not carry the field.
  std::unordered_map<proto::TaskId, std::string, proto::TaskIdHash> attempt_logs_;
  using Deadline = std::pair<Clock::time_point, proto::TaskId>;
  std::priority_queue<Deadline, std::vector<Deadline>, std::greater<>> wait_deadlines_;
  std::chrono::milliseconds recovery_window_;
  Clock::time_point started_;
  std::vector<proto::TaskId> recovering_;
  TaskTotals totals_;
  std::uint64_t bytes_ = 0;
};

}  // namespace uni::manager
