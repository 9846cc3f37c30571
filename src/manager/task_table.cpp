// The task table's state changes (see task_table.hpp and the state diagram in
// docs/architecture.md §2).
#include "manager/task_table.hpp"

#include <algorithm>
#include <cstdio>

#include "common/log.hpp"
#include "manager/module_store.hpp"
#include "manager/worker_registry.hpp"

namespace uni::manager {

namespace {

using proto::Status;
using proto::TaskId;

std::string seconds_text(std::uint32_t ms) {
  char out[32];
  std::snprintf(out, sizeof(out), "%g", ms / 1000.0);
  return out;
}

}  // namespace

TaskTable::TaskTable(ModuleStore& modules, const WorkerRegistry& workers,
                     std::chrono::milliseconds recovery_window, Clock::time_point started)
    : modules_(modules), workers_(workers), recovery_window_(recovery_window), started_(started) {}

// ---- arrivals ----------------------------------------------------------------------------

TaskRecord& TaskTable::insert(const TaskId& id, const proto::Task& task) {
  TaskRecord& rec = tasks_[id];
  ++counts_[static_cast<std::size_t>(rec.state)];
  if (task.flags & proto::kFlagService) services_.insert(id);
  Session& s = sessions_[id.session];
  ++s.live;
  link(s.unfinished, rec);
  modules_.pin(task.module);
  return rec;
}

TaskRecord& TaskTable::add(proto::Task task, std::optional<std::uint16_t> platform,
                           Clock::time_point now, TableChanges& changes) {
  ++totals_.submitted;
  TaskRecord& rec = insert(task.id, task);
  bytes_ += bytes_of(task);
  rec.task = std::move(task);
  rec.task.attempt = 1;
  if (rec.task.max_attempts == 0) rec.task.max_attempts = 1;
  if (rec.task.wait_ms > 0)
    wait_deadlines_.emplace(now + std::chrono::milliseconds(rec.task.wait_ms), rec.task.id);
  if (platform) {
    rec.platform = *platform;
    admit(rec, now, changes);
  } else {
    waiting_for_module_[rec.task.module].push_back(rec.task.id);
  }
  return rec;
}

// Queued, or held if it was resubmitted just after a start: a worker may yet
// re-announce it, and it must not start twice.
void TaskTable::admit(TaskRecord& t, Clock::time_point now, TableChanges& changes) {
  if (t.is(proto::kFlagResubmitted) && recovering(now)) {
    set_state(t, TaskState::kRecovering);
    recovering_.push_back(t.task.id);
  } else {
    enqueue(t, false, changes);
  }
}

TaskRecord& TaskTable::adopt(const proto::RunningTask& announced, Worker& w) {
  proto::Task task;
  task.id = announced.id;
  task.module = announced.module;
  task.function = announced.function;
  task.flags = announced.flags;
  task.attempt = announced.attempt;
  // The real limit comes with the boss's resubmission.
  task.max_attempts = std::max<std::uint8_t>(announced.attempt, 3);
  TaskRecord& rec = insert(announced.id, task);
  bytes_ += bytes_of(task);
  rec.task = std::move(task);
  rec.placeholder = true;
  rec.platform = w.platform;
  assign(rec, w);
  return rec;
}

void TaskTable::fill_placeholder(TaskRecord& t, proto::Task task, TableChanges& changes) {
  std::uint8_t attempt = t.task.attempt;
  bool was_service = t.is(proto::kFlagService);
  bytes_ += bytes_of(task) - bytes_of(t.task);
  t.task = std::move(task);
  t.task.attempt = attempt;
  t.placeholder = false;
  if (was_service != t.is(proto::kFlagService)) {
    if (was_service) services_.erase(t.task.id);
    else if (t.state != TaskState::kDone) services_.insert(t.task.id);
  }
  if (t.state != TaskState::kAwaitingBoss) return;
  // Its worker died before the boss's attempt limit was known here.
  if (t.task.attempt > t.task.max_attempts) {
    t.task.attempt = t.task.max_attempts;
    attempts_exhausted(t, changes);
  } else {
    enqueue(t, true, changes);
  }
}

void TaskTable::take_over(TaskRecord& t, Worker& w) {
  // Its queue, module-wait or recovery entry is skipped when it comes up.
  t.platform = w.platform;
  assign(t, w);
}

// ---- modules -----------------------------------------------------------------------------

void TaskTable::module_arrived(const ModuleHash& hash, std::uint16_t platform,
                               Clock::time_point now, TableChanges& changes) {
  auto it = waiting_for_module_.find(hash);
  if (it == waiting_for_module_.end()) return;
  std::vector<TaskId> waiting = std::move(it->second);
  waiting_for_module_.erase(it);
  for (const TaskId& id : waiting) {
    TaskRecord* t = find(id);
    if (!t || t->state != TaskState::kWaitingModule) continue;
    t->platform = platform;
    admit(*t, now, changes);
  }
}

void TaskTable::module_refused(const ModuleHash& hash, std::uint64_t session,
                               const std::string& error, TableChanges& changes) {
  auto it = waiting_for_module_.find(hash);
  if (it == waiting_for_module_.end()) return;
  std::vector<TaskId> waiting = std::move(it->second);
  std::vector<TaskId> keep;
  for (const TaskId& id : waiting) {
    TaskRecord* t = find(id);
    if (!t || t->state != TaskState::kWaitingModule) continue;
    if (id.session == session) fail(*t, Status::kRejected, error, changes);
    else keep.push_back(id);
  }
  if (keep.empty()) waiting_for_module_.erase(hash);
  else waiting_for_module_[hash] = std::move(keep);
}

// ---- the queue and the workers -----------------------------------------------------------

TaskRecord* TaskTable::next_queued(std::uint16_t platform) {
  while (std::optional<TaskId> id = queue_.pop(platform)) {
    TaskRecord* t = find(*id);
    if (t && t->state == TaskState::kQueued) return t;
    // cancelled, failed or taken since it was queued
  }
  return nullptr;
}

void TaskTable::assign(TaskRecord& t, Worker& w) {
  set_state(t, TaskState::kRunning);
  t.worker = &w;
  w.inflight.insert(t.task.id);
}

void TaskTable::unassign(TaskRecord& t, TableChanges& changes) {
  t.started = false;
  if (t.worker) {
    t.worker->inflight.erase(t.task.id);
    changes.freed.push_back(t.worker);
  }
  t.worker = nullptr;
}

bool TaskTable::enqueue(TaskRecord& t, bool front, TableChanges& changes) {
  if (t.stopping) {
    end_stopped(t, changes);
    return false;
  }
  if (t.placeholder) {  // cannot run without its args: wait for the boss to resubmit
    if (t.is(proto::kFlagDetached)) {
      // A `uni spawn` service known only from its worker's re-announcement:
      // no boss will resubmit it, and its args went with the old manager.
      fail(t, Status::kCrashed,
           "service " + t.task.function +
               " lost its worker, and its arguments were lost with a "
               "manager restart: it cannot be restarted; spawn it again",
           changes);
      return false;
    }
    set_state(t, TaskState::kAwaitingBoss);
    return true;
  }
  set_state(t, TaskState::kQueued);
  queue_.push(t.platform, t.task.id.session, t.task.id, front);
  if (workers_.workers_for(t.platform) == 0)
    changes.unserved.emplace_back(t.task.id.session, t.platform);
  return true;
}

// ---- endings -----------------------------------------------------------------------------

void TaskTable::complete(TaskRecord& t, proto::Result result, TableChanges& changes) {
  if (t.state == TaskState::kRunning) unassign(t, changes);
  set_state(t, TaskState::kDone);
  result.id = t.task.id;
  // A cancelled task did not fail: someone stopped it (Ctrl-C of a map,
  // `uni stop`), and it is counted on its own.
  if (result.status == Status::kOk) ++totals_.completed;
  else if (result.status == Status::kCancelled) ++totals_.cancelled;
  else ++totals_.failed;
  bytes_ += result.payload.size() - (t.result ? t.result->payload.size() : 0);
  t.result = std::make_unique<proto::Result>(std::move(result));
  Session& s = sessions_[t.task.id.session];
  unlink(s.unfinished, t);
  link(s.finished, t);
  ++s.done;
  changes.finished.push_back(&t);
}

void TaskTable::fail(TaskRecord& t, Status status, std::string text, TableChanges& changes) {
  proto::Result r;
  r.status = status;
  r.payload = std::move(text);
  r.attempt = t.task.attempt;
  complete(t, std::move(r), changes);
}

// A task the boss cancelled while it ran, which its worker then let go
// (lost, handed back): it is over, whatever became of the run.
void TaskTable::end_stopped(TaskRecord& t, TableChanges& changes) {
  fail(t, Status::kCancelled, "cancelled while running (its worker stopped it or was lost)",
       changes);
}

void TaskTable::attempt_failed(TaskRecord& t, const std::string& what, TableChanges& changes) {
  if (t.stopping) {
    end_stopped(t, changes);
    return;
  }
  std::string& history = attempt_logs_[t.task.id];
  if (!history.empty()) history += "; ";
  history += "attempt " + std::to_string(t.task.attempt) + ": " + what;
  if (t.task.attempt >= t.task.max_attempts) {
    attempts_exhausted(t, changes);
    return;
  }
  ++t.task.attempt;
  if (!enqueue(t, true, changes)) return;  // it ended instead
  ++totals_.requeued;
  log::info("task {} ({}) requeued for attempt {}: {}", t.task.id.str(), t.task.function,
            t.task.attempt, what);
}

// Fails a task with the story of its attempts.
void TaskTable::attempts_exhausted(TaskRecord& t, TableChanges& changes) {
  const std::string& history = attempt_logs_[t.task.id];
  std::uint8_t tried = std::min(t.task.attempt, t.task.max_attempts);
  std::string text = tried == 1 ? history.substr(history.find(": ") + 2)
                                : "failed " + std::to_string(tried) + " attempts: " + history;
  fail(t, Status::kCrashed, text, changes);
}

proto::CancelState TaskTable::cancel(const TaskId& id, TableChanges& changes) {
  TaskRecord* t = find(id);
  if (!t) return proto::CancelState::kUnknown;
  if (t->state == TaskState::kDone) return proto::CancelState::kDone;
  if (t->state == TaskState::kRunning) {
    changes.stops.emplace_back(t->worker, id);
    t->stopping = true;
    return proto::CancelState::kStopping;
  }
  fail(*t, Status::kCancelled, "cancelled before it started", changes);
  return proto::CancelState::kCancelled;
}

void TaskTable::erase(const TaskId& id, TableChanges& changes) {
  auto it = tasks_.find(id);
  if (it == tasks_.end()) return;
  TaskRecord& t = it->second;
  unassign(t, changes);
  bytes_ -= bytes_of(t.task) + (t.result ? t.result->payload.size() : 0);
  --counts_[static_cast<std::size_t>(t.state)];
  if (t.is(proto::kFlagService)) services_.erase(id);
  modules_.unpin(t.task.module);
  if (!attempt_logs_.empty()) attempt_logs_.erase(id);
  auto s = sessions_.find(id.session);
  if (t.state == TaskState::kDone) {
    unlink(s->second.finished, t);
    --s->second.done;
  } else {
    unlink(s->second.unfinished, t);
  }
  if (--s->second.live == 0) {
    sessions_.erase(s);
    changes.emptied.push_back(id.session);
  }
  tasks_.erase(it);
}

void TaskTable::set_state(TaskRecord& t, TaskState state) {
  --counts_[static_cast<std::size_t>(t.state)];
  ++counts_[static_cast<std::size_t>(state)];
  if (state == TaskState::kDone && t.is(proto::kFlagService)) services_.erase(t.task.id);
  t.state = state;
}

// ---- time --------------------------------------------------------------------------------

void TaskTable::expire_waits(Clock::time_point now, TableChanges& changes) {
  while (!wait_deadlines_.empty() && wait_deadlines_.top().first <= now) {
    TaskId id = wait_deadlines_.top().second;
    wait_deadlines_.pop();
    TaskRecord* t = find(id);
    if (!t || (t->state != TaskState::kQueued && t->state != TaskState::kWaitingModule &&
               t->state != TaskState::kRecovering))
      continue;
    std::string limit = seconds_text(t->task.wait_ms) + " s";
    if (t->state == TaskState::kWaitingModule)
      fail(*t, Status::kNoWorker, "its module did not reach the manager within " + limit, changes);
    else
      fail(*t, Status::kNoWorker,
           "no worker for " + workers_.platform_need(t->platform) + " took it within " + limit,
           changes);
  }
}

void TaskTable::end_recovery(Clock::time_point now, TableChanges& changes) {
  if (recovering_.empty() || recovering(now)) return;
  std::vector<TaskId> held = std::move(recovering_);
  recovering_.clear();
  for (const TaskId& id : held)
    if (TaskRecord* t = find(id); t && t->state == TaskState::kRecovering)
      enqueue(*t, false, changes);
}

// ---- sessions ----------------------------------------------------------------------------

void TaskTable::link(TaskRecord*& head, TaskRecord& t) {
  t.session_prev = nullptr;
  t.session_next = head;
  if (head) head->session_prev = &t;
  head = &t;
}

void TaskTable::unlink(TaskRecord*& head, TaskRecord& t) {
  if (t.session_prev) t.session_prev->session_next = t.session_next;
  else head = t.session_next;
  if (t.session_next) t.session_next->session_prev = t.session_prev;
  t.session_prev = t.session_next = nullptr;
}

std::vector<TaskId> TaskTable::tasks_of(std::uint64_t session) const {
  std::vector<TaskId> out;
  auto it = sessions_.find(session);
  if (it == sessions_.end()) return out;
  out.reserve(it->second.live);
  for (const TaskRecord* head : {it->second.unfinished, it->second.finished})
    for (const TaskRecord* t = head; t; t = t->session_next) out.push_back(t->task.id);
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<TaskId> TaskTable::finished_of(std::uint64_t session) const {
  std::vector<TaskId> out;
  auto it = sessions_.find(session);
  if (it == sessions_.end()) return out;
  out.reserve(it->second.done);
  for (const TaskRecord* t = it->second.finished; t; t = t->session_next) out.push_back(t->task.id);
  std::sort(out.begin(), out.end());
  return out;
}

std::size_t TaskTable::count_of(std::uint64_t session) const {
  auto it = sessions_.find(session);
  return it == sessions_.end() ? 0 : it->second.live;
}

}  // namespace uni::manager
