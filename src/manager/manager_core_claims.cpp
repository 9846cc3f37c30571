// The manager core's answer to a worker's HELLO: who the worker is (its id
// bound to its key and to the secret of its first HELLO), and which of the
// tasks it re-announces it may keep (docs/security.md §4). The rule:
//
//   A worker keeps a task only if the manager gave it to that same worker —
//   it is assigned to it, or it was taken from it when the worker was lost
//   and waits again — or, when the manager cannot know (it restarted since),
//   if the worker shows it was sent the task: the digest of the task's
//   arguments it announces must match the arguments the task's boss submits
//   again. Until that check, nothing it returns for the task is believed.
//
// So an id read from `uni status` or a log lets no worker take a task, and a
// manager restart lets it take only tasks whose arguments it was sent.

#include "common/log.hpp"
#include "manager/manager_core.hpp"

namespace uni::manager {

namespace {

using proto::TaskId;

// Who a worker is, as far as taking back its own tasks goes.
std::string fingerprint(const Worker& w) {
  return w.identity->public_key + '\0' + w.id + '\0' + w.secret;
}

bool waiting(TaskState s) {
  return s == TaskState::kQueued || s == TaskState::kAwaitingBoss || s == TaskState::kRecovering ||
         s == TaskState::kWaitingModule;
}

}  // namespace

void ManagerCore::worker_hello(const PeerId& peer, const proto::Hello& hello,
                               std::shared_ptr<const Identity> who, Outbox& out) {
  const proto::Refusal about{proto::Type::kHello, 0, {}};
  if (!may(who->role, Action::kServe))
    return refuse(peer, role_refusal(*who, Action::kServe), about, out);
  // It holds at most what its credit ever allowed: its slots, and a prefetch
  // of at most kMaxPrefetchPerSlot per slot (docs/protocol.md 13.1). More is
  // not a worker's re-announcement, and would cost the manager a record and
  // a log line each.
  if (std::uint64_t most = std::uint64_t{hello.slots} * (1 + proto::kMaxPrefetchPerSlot);
      hello.running.size() > most) {
    count(Refusal::kHello);
    log::limited(spdlog::level::warn, "hello-refused",
                 "refused the HELLO of worker {} ({}): {} held tasks announced, at most {} for "
                 "{} slot(s)",
                 hello.worker_id, hello.host, hello.running.size(), most, hello.slots);
    if (Worker* w = workers_.find(peer)) worker_gone(*w, "its HELLO was refused", out);
    out.send(peer, proto::encode_refusal("HELLO: a worker with " + std::to_string(hello.slots) +
                                             " slot(s) holds at most " + std::to_string(most) +
                                             " tasks; this one announced " +
                                             std::to_string(hello.running.size()),
                                         about));
    return;
  }
  if (Worker* live = workers_.find_id(hello.worker_id); live && live->peer != peer) {
    // Another connection says it is a worker that is connected: the same
    // worker back on a new connection (its old one is stale) only with the
    // same key and the secret of its first HELLO.
    const bool same_key = live->identity->public_key == who->public_key;
    if (!same_key || live->secret.empty() || live->secret != hello.secret)
      return refuse(peer,
                    "refused: worker " + hello.worker_id + " is connected already, from " +
                        (same_key ? "another process" : "another key") +
                        ": a worker is its key and its connection, not the id it gives",
                    about, out);
    if (Worker* other = workers_.find(peer); other && other != live)
      worker_gone(*other, "its connection now speaks as worker " + live->id, out);
    workers_.rebind(*live, peer);
  }
  bosses_.release(peer);
  auto [w, known] = workers_.join(peer, hello, now_);
  w.identity = std::move(who);
  w.secret = hello.secret;
  out.send(peer, proto::encode_welcome(welcome()));
  resume_held(w, hello, out);
  apply(out);
  workers_.note_room(w);
  bosses_.platform_served(w.platform);  // a worker for a platform someone waits on
  log::info("worker {} ({} pid {}, {} slots, {}, key '{}') {}", w.id, w.host, w.pid, w.slots,
            w.isolation, w.identity->name, known ? "reconnected" : "joined");
}

void ManagerCore::resume_held(Worker& w, const proto::Hello& hello, Outbox& out) {
  Reconciliation r = workers_.reconcile(w, hello.running, tasks_);
  for (const TaskId& id : r.never_arrived) {  // sent but never received: no attempt spent
    if (TaskRecord* t = tasks_.find(id)) {
      tasks_.unassign(*t, changes_);
      tasks_.enqueue(*t, true, changes_);
    }
  }
  std::vector<TaskId> stop = std::move(r.duplicates);
  for (const TaskId& id : r.stopping) stop.push_back(id);  // the first CANCEL may have been lost
  std::uint64_t not_adopted = 0;
  for (const proto::RunningTask& rt : r.unknown) {
    if (!tasks_.recovering(now_)) {
      // Not a restart: the task ended or was never this worker's.
      log::info("worker {} holds task {}, which the manager does not know: stopped there", w.id,
                rt.id.str());
      stop.push_back(rt.id);
      continue;
    }
    // Past --max-tasks the worker is told to stop it instead: its boss
    // submits it again.
    if (tasks_.size() >= config_.max_tasks) {
      stop.push_back(rt.id);
      ++not_adopted;
      continue;
    }
    // The manager restarted and lost its records: a claim, checked when the
    // task's boss submits it again (check_claim).
    tasks_.adopt(rt, w);
    claims_[rt.id] = {rt.args_digest, std::nullopt};
    bosses_.record(rt.id.session, now_);
  }
  for (const proto::RunningTask& rt : r.waiting) {
    TaskRecord& t = *tasks_.find(rt.id);
    if (may_take_over(w, t, rt)) {
      tasks_.take_over(t, w);
      continue;
    }
    log::warn(
        "worker {} (key '{}') re-announced task {}, which the manager never gave it: "
        "stopped there",
        w.id, w.identity->name, rt.id.str());
    stop.push_back(rt.id);
  }
  if (!stop.empty()) out.send(w.peer, proto::encode_cancel(stop));
  if (not_adopted > 0) {
    count(Refusal::kQueueFull, not_adopted);
    log::warn("worker {} re-announced {} task(s) past --max-tasks {}: told to stop them", w.id,
              not_adopted, config_.max_tasks);
  }
}

bool ManagerCore::may_take_over(const Worker& w, const TaskRecord& t,
                                const proto::RunningTask& held) {
  if (auto it = released_.find(t.task.id); it != released_.end() && it->second == fingerprint(w)) {
    released_.erase(it);
    return true;
  }
  // Resubmitted after a restart: it may still run where the old manager
  // sent it. One try per task, so that arguments cannot be guessed.
  if (!t.is(proto::kFlagResubmitted) || t.placeholder) return false;
  const bool sent = held.args_digest == proto::digest_args(t.task.args);
  if (!sent) tasks_.find(t.task.id)->task.flags &= ~proto::kFlagResubmitted;
  return sent;
}

void ManagerCore::remember_released(const Worker& w, const std::vector<TaskId>& ids) {
  // What was released before and has run elsewhere since goes first.
  std::erase_if(released_, [&](const auto& entry) {
    const TaskRecord* t = tasks_.find(entry.first);
    return !t || !waiting(t->state);
  });
  const std::string who = fingerprint(w);
  for (const TaskId& id : ids)
    if (const TaskRecord* t = tasks_.find(id); t && waiting(t->state)) released_[id] = who;
}

void ManagerCore::check_claim(TaskRecord& t, Outbox& out) {
  auto it = claims_.find(t.task.id);
  if (it == claims_.end()) return;
  Claim claim = std::move(it->second);
  claims_.erase(it);
  Worker* w = t.state == TaskState::kRunning ? t.worker : nullptr;
  if (!w) return;  // its claimant is gone: the task runs afresh, with its arguments
  const TaskId id = t.task.id;
  if (claim.digest == proto::digest_args(t.task.args)) {
    if (!claim.result) return;
    // Its result came before the check: believed now, and acknowledged.
    std::vector<proto::Result> held;
    held.push_back(std::move(*claim.result));
    on_result(w->peer, std::move(held), out);
    return;
  }
  log::warn(
      "worker {} (key '{}') claimed task {} after the manager's restart, but was never sent "
      "it (its arguments do not match): stopped there, the task runs again",
      w->id, w->identity->name, id.str());
  out.send(w->peer, proto::encode_cancel({id}));
  w->acks_out.push_back(id);  // drops a result it holds for it
  workers_.note_output(*w);
  tasks_.unassign(t, changes_);
  tasks_.enqueue(t, true, changes_);
  apply(out);
}

bool ManagerCore::hold_claimed_result(TaskRecord& t, proto::Result& r) {
  auto it = claims_.find(t.task.id);
  if (it == claims_.end()) return false;
  // A run that did not end (handed back, crashed) is no result to believe:
  // it is handled as from any worker.
  if (r.status == proto::Status::kHandedBack || proto::is_retryable(r.status)) return false;
  it->second.result = std::move(r);
  return true;
}

// A boss forgotten (gone past its grace): its detached tasks known only from
// claims stay while they run; one whose claimed result came is over, and its
// result is not believed — nobody will resubmit it to check the claim.
void ManagerCore::claims_on_forget(std::uint64_t session, Outbox& out) {
  std::vector<TaskId> ended;
  for (const auto& [id, claim] : claims_)
    if (id.session == session && claim.result) ended.push_back(id);
  for (const TaskId& id : ended) {
    claims_.erase(id);
    TaskRecord* t = tasks_.find(id);
    if (!t) continue;
    log::warn(
        "task {} ({}) ended on worker {}, which could not show it was sent the task after "
        "the manager's restart: its result is not believed, nor kept",
        id.str(), t->task.function, t->worker ? t->worker->id : std::string("?"));
    if (Worker* w = t->worker) {
      w->acks_out.push_back(id);
      workers_.note_output(*w);
    }
    tasks_.erase(id, changes_);
  }
  apply(out);
}

void ManagerCore::claims_on_timer() {
  std::erase_if(claims_, [&](const auto& entry) {
    const TaskRecord* t = tasks_.find(entry.first);
    return !t || !t->placeholder;
  });
}

bool ManagerCore::may_fetch(const Worker& w, const ModuleHash& hash) {
  if (w.identity->shared || w.identity->role == uni::Role::kAdmin) return true;
  for (const TaskId& id : w.inflight)
    if (const TaskRecord* t = tasks_.find(id); t && t->task.module == hash) return true;
  return becomes_.any_sent(hash, [&](const TaskId& service) {
    const TaskRecord* t = tasks_.find(service);
    return t && t->worker == &w;
  });
}

void ManagerCore::on_clients_reloaded(
    const std::function<std::shared_ptr<const Identity>(const std::string&)>& find, Outbox& out) {
  std::vector<PeerId> peers;
  workers_.for_each([&](const Worker& w) { peers.push_back(w.peer); });
  for (const PeerId& peer : peers) {
    Worker& w = *workers_.find(peer);
    if (w.identity->shared) continue;
    std::shared_ptr<const Identity> now = find(w.identity->public_key);
    std::string why;
    if (!now) why = "its key '" + w.identity->name + "' left the manager's clients file";
    else if (!may(now->role, Action::kServe))
      why = "its key '" + now->name + "' now has role " + role_name(now->role);
    if (why.empty()) {
      w.identity = std::move(now);
      continue;
    }
    out.send(peer, proto::encode_refusal("refused: " + why, {proto::Type::kHello, 0, {}}));
    worker_gone(w, why, out);
  }
  std::vector<PeerId> released;
  bosses_.for_each([&](Boss& b) {
    if (!b.identity || b.identity->shared) return;
    std::shared_ptr<const Identity> now = find(b.identity->public_key);
    if (now) {
      b.identity = std::move(now);
    } else if (!b.peer.empty()) {
      // Its further messages get "hello-required", and its HELLO a refusal.
      log::info("boss {:016x}: its key '{}' was removed; its connection is dropped", b.session,
                b.identity->name);
      released.push_back(b.peer);
    }
  });
  for (const PeerId& peer : released) bosses_.release(peer);
}

}  // namespace uni::manager
