// The manager's handling of each message type, its turn (dispatch, flush)
// and its timers, over the task table, the worker registry and the boss
// router (see manager_core.hpp).
#include "manager/manager_core.hpp"

#include <cstdio>

#include "common/log.hpp"
#include "proto/batch.hpp"
#include "proto/platforms.hpp"
#include "uni/version.hpp"

namespace uni::manager {

namespace {

using proto::Status;
using proto::TaskId;

std::uint64_t ms_between(Clock::time_point from, Clock::time_point to) {
  if (to <= from) return 0;
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(to - from).count());
}

std::string seconds_text(std::chrono::milliseconds ms) {
  char out[32];
  std::snprintf(out, sizeof(out), "%g", static_cast<double>(ms.count()) / 1000.0);
  return out;
}

}  // namespace

ManagerCore::ManagerCore(const ManagerConfig& config, std::string manager_id, std::string endpoint,
                         Clock::time_point now)
    : config_(config),
      manager_id_(std::move(manager_id)),
      endpoint_(std::move(endpoint)),
      modules_(config.module_store_bytes),
      tasks_(modules_, workers_, config.recovery_window, now),
      kept_({config.keep_results_for, config.max_kept_results, config.max_kept_result_bytes}),
      now_(now),
      started_(now) {}

ManagerCore::Role ManagerCore::role_of(const PeerId& peer) {
  if (workers_.find(peer)) return Role::kWorker;
  if (bosses_.at(peer)) return Role::kBoss;
  return Role::kUnknown;
}

ManagerCore::Role ManagerCore::heard_from(const PeerId& peer, Clock::time_point now) {
  now_ = now;
  if (Worker* w = workers_.find(peer)) {
    w->last_seen = now;
    return Role::kWorker;
  }
  Boss* b = bosses_.at(peer);
  if (!b) return Role::kUnknown;
  b->last_seen = now;
  // Marked disconnected (silent too long, or a send failed) but talking
  // again: the results it missed meanwhile go out now.
  if (!b->connected) {
    b->connected = true;
    bosses_.resend(*b, tasks_.finished_of(b->session));
  }
  return Role::kBoss;
}

// Applies what the table's changes ask of the others, until nothing is left.
void ManagerCore::apply(Outbox& out) {
  while (!changes_.empty()) {
    std::swap(applying_, changes_);
    for (Worker* w : applying_.freed) workers_.note_room(*w);
    for (const auto& [w, id] : applying_.stops) out.send(w->peer, proto::encode_cancel({id}));
    for (const auto& [session, platform] : applying_.unserved)
      bosses_.note_unserved(session, platform, now_);
    for (const TaskRecord* t : applying_.finished) {
      if (t->state != TaskState::kDone) continue;
      const TaskId id = t->task.id;
      if (t->result->status != Status::kOk && t->result->status != Status::kCancelled)
        metrics_.failures.add({id.str(), t->task.function, proto::status_name(t->result->status),
                               t->result->payload, t->result->worker, 0},
                              now_);
      if (t->is(proto::kFlagDetached)) {
        if (t->is(proto::kFlagKeepResult)) keep_result(*t, out);
        else
          log::info("service {} ({}) ended: {}", id.str(), t->task.function,
                    t->result->status == Status::kOk ? "returned" : t->result->payload);
        // Nobody waits for a detached task's result, except the `uni spawn`
        // that started it if it is still there (a service that fails at once).
        const Boss* b = bosses_.find(id.session);
        if (!b || !b->connected) {
          tasks_.erase(id, changes_);
          continue;
        }
      }
      bosses_.result_ready(id);
    }
    for (std::uint64_t session : applying_.emptied) bosses_.drop_if_forgotten(session);
    applying_.freed.clear();
    applying_.stops.clear();
    applying_.unserved.clear();
    applying_.finished.clear();
    applying_.emptied.clear();
  }
}

// ---- any peer ----------------------------------------------------------------------------

void ManagerCore::on_hello(const PeerId& peer, const proto::Hello& hello,
                           std::shared_ptr<const Identity> who, Clock::time_point now,
                           Outbox& out) {
  now_ = now;
  if (!who)
    return refuse(peer,
                  "refused: the key of this connection is no longer admitted (it left the "
                  "manager's clients file)",
                  {proto::Type::kHello, 0, {}}, out);
  if (hello.role == "boss") return boss_hello(peer, hello, std::move(who), out);
  worker_hello(peer, hello, std::move(who), out);
}

proto::Welcome ManagerCore::welcome() const {
  return {manager_id_, UNI_VERSION_STRING, static_cast<std::uint32_t>(config_.heartbeat.count()),
          config_.max_message, config_.max_module};
}

// A session is opened by the first HELLO that names it and resumed only by
// the same client: the one that knows its secret, and (keyed) of the key its
// id names, or an admin's.
void ManagerCore::boss_hello(const PeerId& peer, const proto::Hello& hello,
                             std::shared_ptr<const Identity> who, Outbox& out) {
  char session[24];
  std::snprintf(session, sizeof(session), "%016llx",
                static_cast<unsigned long long>(hello.session));
  const proto::Refusal about{proto::Type::kHello, 0, {}};
  if (!session_of(*who, hello.session) && who->role != uni::Role::kAdmin) {
    char tag[16];
    std::snprintf(tag, sizeof(tag), "%08x", who->owner_tag);
    return refuse(peer,
                  "refused: key '" + who->name + "' may not open session " + session +
                      ": the sessions of this key begin with " + tag,
                  about, out);
  }
  if (const Boss* held = bosses_.find(hello.session);
      held && !held->secret.empty() && held->secret != hello.secret)
    return refuse(peer,
                  std::string("refused: session ") + session +
                      " belongs to another client: only the client that opened it may resume it",
                  about, out);
  if (Worker* w = workers_.find(peer)) worker_gone(*w, "its connection now speaks as a boss", out);
  Boss& boss = bosses_.connect(hello.session, peer, now_);
  boss.identity = std::move(who);
  if (boss.secret.empty()) boss.secret = hello.secret;
  out.send(peer, proto::encode_welcome(welcome()));
  bosses_.resend(boss, tasks_.finished_of(boss.session));
  log::debug("boss {:016x} connected (key '{}')", boss.session, boss.identity->name);
}

const Identity* ManagerCore::identity_of(const PeerId& peer) {
  if (Worker* w = workers_.find(peer)) return w->identity.get();
  if (Boss* b = bosses_.at(peer)) return b->identity.get();
  return nullptr;
}

void ManagerCore::refuse(const PeerId& peer, const std::string& text, const proto::Refusal& what,
                         Outbox& out) {
  log::info("{} ({})", text, proto::type_name(what.type));
  out.send(peer, proto::encode_refusal(text, what));
}

void ManagerCore::on_cancel(const PeerId& peer, const std::vector<TaskId>& ids, Outbox& out) {
  const Identity* who = identity_of(peer);
  if (!who) return;
  const proto::Refusal about{proto::Type::kCancel, 0, ids};
  if (!may(who->role, Action::kCancel))
    return refuse(peer, role_refusal(*who, Action::kCancel), about, out);
  // All or nothing: the owner is read from each id, so a refusal says
  // nothing about whether the task exists.
  for (const TaskId& id : ids)
    if (!owns(*who, id)) return refuse(peer, owner_refusal(*who, Action::kCancel, id), about, out);
  std::vector<proto::CancelOutcome> outcomes;
  outcomes.reserve(ids.size());
  for (const TaskId& id : ids) {
    outcomes.emplace_back(id, tasks_.cancel(id, changes_));
    apply(out);
  }
  // A worker's CANCEL is processed the same way but not answered.
  if (role_of(peer) == Role::kBoss) out.send(peer, proto::encode_cancel_reply(outcomes));
}

void ManagerCore::on_status(const PeerId& peer, Clock::time_point now, Outbox& out) {
  const Identity* who = identity_of(peer);
  if (!who) return;
  if (!may(who->role, Action::kStatus))
    return refuse(peer, role_refusal(*who, Action::kStatus), {proto::Type::kStatus, 0, {}}, out);
  proto::StatusReport report = status(now);
  // The boss that asks is not counted: `uni status` listed itself as a
  // connected boss.
  if (const Boss* b = bosses_.at(peer); b && b->connected && report.bosses > 0) --report.bosses;
  out.send(peer, proto::encode_status_reply(report));
}

void ManagerCore::on_bye(const PeerId& peer, const std::string& reason, Outbox& out) {
  if (Worker* w = workers_.find(peer)) {
    worker_gone(*w, "it left (" + reason + ")", out);
  } else if (Boss* b = bosses_.at(peer)) {
    // A boss says BYE when its Cluster closes: nobody collects its results
    // any more.
    if (!result_waiters_.empty()) result_waiters_.drop_peer(peer);
    forget_boss(*b, "left", out);
  }
}

// ---- a boss ------------------------------------------------------------------------------

// A task the manager will not take is answered at once, for its id, so that
// its boss does not wait for ever: status `rejected`, and why.
proto::Result ManagerCore::refusal(const TaskId& id, const std::string& why) const {
  proto::Result r;
  r.id = id;
  r.status = Status::kRejected;
  r.payload = "the manager refused the task: " + why;
  return r;
}

void ManagerCore::on_submit(const PeerId& peer, Submission submission, Clock::time_point now,
                            Outbox& out) {
  Boss* boss = bosses_.at(peer);
  if (!boss) return;
  now_ = now;
  // Direct answers (refused tasks, queue full): results the manager keeps no
  // record of, sent together after the rest of the SUBMIT.
  std::vector<proto::Result> answers;
  if (!may(boss->identity->role, Action::kSubmit)) {
    const std::string why = role_refusal(*boss->identity, Action::kSubmit);
    log::info("{} ({} task(s))", why, submission.tasks.size() + submission.refused.size());
    for (const TaskId& id : submission.ids()) {
      proto::Result& r = answers.emplace_back();
      r.id = id;
      r.status = Status::kRefused;
      r.payload = why;
    }
    submission = {};
  }
  if (!submission.error.empty()) {
    // Refused whole: every task whose id reads is answered, and the boss is
    // told why once.
    log::limited(spdlog::level::warn, "refused-submit", "refused a SUBMIT of boss {:016x}: {}",
                 boss->session, submission.error);
    for (const TaskId& id : submission.refused) answers.push_back(refusal(id, submission.error));
    out.send(peer, proto::encode_error("malformed", submission.error));
  }
  for (proto::Task& task : submission.tasks) {
    const TaskId id = task.id;
    if (id.session != boss->session) {
      answers.push_back(
          refusal(id, "task " + id.str() + " does not belong to this boss's session"));
      continue;
    }
    if (TaskRecord* existing = tasks_.find(id)) {
      // A resubmission (after a reconnect): fill in what a placeholder lacks,
      // resend a result or a started service's event the boss may have
      // missed, otherwise ignore.
      if (existing->placeholder) {
        tasks_.fill_placeholder(*existing, std::move(task), changes_);
        check_claim(*existing, out);
      } else if (existing->state == TaskState::kDone) {
        bosses_.result_ready(id);
      } else if (existing->state == TaskState::kWaitingModule &&
                 boss->asked.insert(existing->task.module).second) {
        // The NEED_MODULE may have gone to the boss's previous connection.
        out.send(peer, proto::encode_need_module(existing->task.module));
      }
      apply(out);
      if (const TaskRecord* t = tasks_.find(id);
          t && t->state == TaskState::kRunning && t->started && !t->stopping)
        tell_started(*t, out);
      continue;
    }
    if (task.flags & proto::kFlagKeepResult) {
      if (!(task.flags & proto::kFlagDetached)) {
        answers.push_back(refusal(id,
                                  "flag keep-result (16) needs flag detached (2): a result "
                                  "is kept for tasks that outlive their boss"));
        continue;
      }
      // Ended and acknowledged before this resubmission: the kept result
      // answers it, and it does not run again.
      if (const proto::Result* kept = kept_.find(id)) {
        answers.push_back(*kept);
        continue;
      }
    }
    if (tasks_.size() >= config_.max_tasks) {
      count(Refusal::kQueueFull);
      proto::Result full;
      full.id = id;
      full.status = Status::kQueueFull;
      full.payload = "the manager holds " + std::to_string(tasks_.size()) + " tasks, its limit";
      answers.push_back(std::move(full));
      continue;
    }
    if (tasks_.bytes() + TaskTable::bytes_of(task) > config_.max_queued_bytes) {
      count(Refusal::kQueuedBytes);
      proto::Result full;
      full.id = id;
      full.status = Status::kQueueFull;
      full.payload = "the manager's tasks hold " + std::to_string(tasks_.bytes()) +
                     " bytes; this one would take them past its limit of " +
                     std::to_string(config_.max_queued_bytes) + " (--max-queued-bytes)";
      answers.push_back(std::move(full));
      continue;
    }
    std::optional<std::uint16_t> platform;
    if (const StoredModule* mod = modules_.find(task.module))
      platform = workers_.platform_index(mod->platform);
    TaskRecord& rec = tasks_.add(std::move(task), platform, now, changes_);
    rec.since = now;
    if (!platform && boss->asked.insert(rec.task.module).second)
      out.send(peer, proto::encode_need_module(rec.task.module));
    if (!changes_.empty()) apply(out);
  }
  if (!answers.empty()) {
    std::vector<const proto::Result*> batch;
    for (const proto::Result& r : answers) batch.push_back(&r);
    out.send(peer, proto::encode_results(batch));
  }
}

void ManagerCore::on_put_module(const PeerId& peer, proto::ModuleUpload upload,
                                Clock::time_point now, Outbox& out) {
  now_ = now;
  if (Boss* boss = bosses_.at(peer); boss && !may(boss->identity->role, Action::kSubmit))
    return refuse(peer, role_refusal(*boss->identity, Action::kSubmit),
                  {proto::Type::kPutModule, 0, {}}, out);
  std::optional<std::string> error;
  if (upload.bytes.size() > config_.max_module)
    error = "module of " + std::to_string(upload.bytes.size()) +
            " bytes exceeds the manager's limit of " + std::to_string(config_.max_module) +
            " bytes (--max-module)";
  else
    error = modules_.put(upload.hash, upload.platform, std::move(upload.bytes), upload.signatures);
  bosses_.module_answered(upload.hash);
  if (error) {
    refuse_module(peer, upload.hash, *error, out);
    return;
  }
  const StoredModule* mod = modules_.find(upload.hash);
  ++module_totals_.uploads;
  module_totals_.upload_bytes += mod->bytes.size();
  log::info("stored module {} ({} bytes, {})", upload.hash.hex().substr(0, 12), mod->bytes.size(),
            upload.platform);
  tasks_.module_arrived(upload.hash, workers_.platform_index(mod->platform), now, changes_);
  apply(out);
  becomes_after_upload(upload.hash, std::nullopt, {}, out);
}

// Fails this boss's tasks that wait for a module it failed to upload; other
// bosses' tasks keep waiting, as another boss may still upload it.
void ManagerCore::refuse_module(const PeerId& peer, const ModuleHash& hash,
                                const std::string& error, Outbox& out) {
  Boss* boss = bosses_.at(peer);
  if (!boss) return;
  log::warn("module upload from boss {:016x} refused: {}", boss->session, error);
  tasks_.module_refused(hash, boss->session, error, changes_);
  apply(out);
  becomes_after_upload(hash, boss->session, error, out);
}

void ManagerCore::on_ack(const PeerId& peer, const std::vector<TaskId>& ids, Outbox& out) {
  Boss* boss = bosses_.at(peer);
  if (!boss) return;
  for (const TaskId& id : ids) {
    const TaskRecord* t = tasks_.find(id);
    if (t && t->state == TaskState::kDone && id.session == boss->session)
      tasks_.erase(id, changes_);
  }
  apply(out);
}

// ---- a worker ----------------------------------------------------------------------------

void ManagerCore::on_heartbeat(const PeerId& peer, std::optional<std::uint32_t> busy,
                               const std::vector<TaskId>& started_services, Outbox& out,
                               std::string note) {
  Worker* w = workers_.find(peer);
  if (!w) return;
  w->executing = busy.value_or(w->executing);
  w->note = std::move(note);
  w->last_heartbeat = now_;
  for (const TaskId& id : started_services) {
    TaskRecord* t = tasks_.find(id);
    if (!t || t->state != TaskState::kRunning || t->worker != w || t->started) continue;
    t->started = true;
    t->since = now_;  // a service's uptime
    // Stopped before it started, but its worker had already handed it to an
    // executor (behind another task), which starts it anyway: as a service
    // would run for ever, stop it now that it runs.
    if (t->stopping) out.send(peer, proto::encode_cancel({id}));
    else tell_started(*t, out);
  }
}

// SERVICE_STARTED, to a boss that asked for it (kFlagStartedEvent), on its
// last connection even if it is marked away (it may only have gone silent);
// a boss that reconnects resubmits the task and is told then.
void ManagerCore::tell_started(const TaskRecord& t, Outbox& out) {
  if (!t.is(proto::kFlagStartedEvent)) return;
  const Boss* b = bosses_.find(t.task.id.session);
  if (b && !b->peer.empty()) out.send(b->peer, proto::encode_service_started({t.task.id}));
}

void ManagerCore::on_result(const PeerId& peer, std::vector<proto::Result> results, Outbox& out) {
  Worker* w = workers_.find(peer);
  if (!w) return;
  for (proto::Result& r : results) {
    TaskRecord* t = tasks_.find(r.id);
    // A claim not yet checked (manager_core_claims.cpp): held, unacknowledged.
    if (t && t->placeholder && t->worker == w && hold_claimed_result(*t, r)) continue;
    w->acks_out.push_back(r.id);
    workers_.note_output(*w);
    // Only the worker the task is assigned to may complete it: a late result
    // from a worker presumed dead, or from a cancelled copy, is dropped here.
    if (!t || t->state != TaskState::kRunning || t->worker != w) {
      log::debug("dropping result of {} from worker {}: not assigned to it", r.id.str(), w->id);
      continue;
    }
    tasks_.unassign(*t, changes_);
    if (r.status == Status::kHandedBack) {  // a draining worker: not a failed attempt
      tasks_.enqueue(*t, true, changes_);
      continue;
    }
    if (proto::is_retryable(r.status)) {
      ++w->failed;
      tasks_.attempt_failed(*t, r.payload + " on worker " + w->id + " (" + w->host + ")", changes_);
      continue;
    }
    r.worker = w->id;
    r.host = w->host;
    r.attempt = t->task.attempt;
    metrics_.run_time.observe(now_ - t->since);
    if (r.status == Status::kOk) ++w->completed;
    else if (r.status != Status::kCancelled) ++w->failed;
    tasks_.complete(*t, std::move(r), changes_);
  }
  apply(out);
}

void ManagerCore::on_fetch_module(const PeerId& peer, const ModuleHash& hash, Outbox& out) {
  Worker* w = workers_.find(peer);
  if (!w) return;
  if (!may_fetch(*w, hash)) {
    log::info("refused module {} to worker {} (key '{}'): no task of it needs it",
              hash.hex().substr(0, 12), w->id, w->identity->name);
    out.send(peer,
             proto::encode_module(hash, nullptr,
                                  "refused: worker " + w->id + " holds no task that needs module " +
                                      hash.hex().substr(0, 12)));
    return;
  }
  const StoredModule* mod = modules_.find(hash);
  if (!mod) {
    out.send(peer,
             proto::encode_module(hash, nullptr,
                                  "the manager does not have module " + hash.hex().substr(0, 12)));
    return;
  }
  ++module_totals_.fetches;
  module_totals_.fetch_bytes += mod->bytes.size();
  out.send(peer, proto::encode_module(hash, &mod->bytes, "", mod->signatures));
}

void ManagerCore::on_credit(const PeerId& peer, std::uint32_t capacity) {
  // 0: the worker drains and takes nothing new.
  if (Worker* w = workers_.find(peer)) workers_.set_credit(*w, capacity);
}

// ---- each turn ---------------------------------------------------------------------------

void ManagerCore::dispatch() {
  if (tasks_.count(TaskState::kQueued) == 0 || workers_.with_room().empty()) return;
  // One task per worker per round, so that batches spread over the workers.
  std::vector<Worker*> open;
  auto has_queued = [&](const Worker& w) {
    if (tasks_.has_queued(w.platform)) return true;
    for (std::uint16_t p : w.also_platforms)
      if (tasks_.has_queued(p)) return true;
    return false;
  };
  for (Worker* w : workers_.with_room())
    if (w->has_room() && has_queued(*w)) open.push_back(w);
  while (!open.empty() && tasks_.count(TaskState::kQueued) > 0) {
    std::size_t kept = 0;
    for (Worker* w : open) {
      TaskRecord* t = tasks_.next_queued(w->platform);
      for (std::size_t i = 0; !t && i < w->also_platforms.size(); ++i)
        t = tasks_.next_queued(w->also_platforms[i]);
      if (!t) continue;
      tasks_.assign(*t, *w);
      metrics_.queue_wait.observe(now_ - t->since);
      t->since = now_;
      w->tasks_out.push_back(t->task.id);
      workers_.note_output(*w);
      if (w->has_room()) open[kept++] = w;
    }
    open.resize(kept);
  }
  workers_.prune_room();
}

void ManagerCore::flush(Outbox& out) {
  // Batches are cut at proto::kBatchBytes by their encoded size, far below
  // the message limit.
  workers_.drain_output([&](Worker& w) {
    if (!w.acks_out.empty()) {
      out.send(w.peer, proto::encode_ack(w.acks_out));
      w.acks_out.clear();
    }
    if (w.tasks_out.empty()) return;
    proto::Batcher<proto::Task> batches(
        proto::kBatchBytes, [&](const std::vector<const proto::Task*>& batch) {
          std::vector<TaskId> ids;
          ids.reserve(batch.size());
          for (const proto::Task* t : batch) ids.push_back(t->id);
          out.send_tasks(w.peer, proto::encode_tasks(batch), std::move(ids));
        });
    for (const TaskId& id : w.tasks_out) {
      const TaskRecord* rec = tasks_.find(id);
      if (!rec || rec->state != TaskState::kRunning || rec->worker != &w) continue;
      batches.add(rec->task);
    }
    batches.flush();
    w.tasks_out.clear();
  });
  bosses_.flush(tasks_, out);
}

void ManagerCore::undelivered(const Outgoing& message, Outbox& out) {
  if (message.kind == Outgoing::Kind::kResults) {
    bosses_.undelivered(message.to);
  } else if (message.kind == Outgoing::Kind::kTasks) {
    Worker* w = workers_.find(message.to);
    if (!w) return;
    for (const TaskId& id : message.tasks) {  // never delivered: requeued, no attempt spent
      TaskRecord* t = tasks_.find(id);
      if (t && t->state == TaskState::kRunning && t->worker == w) {
        tasks_.unassign(*t, changes_);
        tasks_.enqueue(*t, true, changes_);
      }
    }
    apply(out);
  }
}

// ---- time --------------------------------------------------------------------------------

void ManagerCore::on_timer(Clock::time_point now, Outbox& out) {
  now_ = now;
  // Workers silent past the timeout are dead.
  for (Worker* w : workers_.silent_since(now - config_.heartbeat_timeout))
    worker_gone(*w, "no heartbeat for " + seconds_text(config_.heartbeat_timeout) + " s", out);
  // Bosses: away after the timeout, forgotten after the grace period.
  for (Boss* b : bosses_.expire(now, config_.heartbeat_timeout, config_.boss_grace))
    forget_boss(*b, "gone for " + seconds_text(config_.boss_grace) + " s", out);
  tasks_.end_recovery(now, changes_);
  tasks_.expire_waits(now, changes_);
  apply(out);
  metrics_.throughput.tick(now, tasks_.totals().completed + tasks_.totals().failed);
  if (!becomes_.empty()) becomes_on_timer(out);
  kept_on_timer(out);
  if (!claims_.empty()) claims_on_timer();
  bosses_.send_notices(now, config_.notice_after, workers_, out);
  if (now >= next_heartbeat_) {
    next_heartbeat_ = now + config_.heartbeat;
    std::string beat = proto::encode_heartbeat();
    workers_.for_each([&](const Worker& w) { out.send(w.peer, beat); });
    bosses_.for_each_peer([&](const PeerId& peer, bool connected) {
      if (connected) out.send(peer, beat);
    });
  }
}

bool ManagerCore::say_goodbye(std::string_view reason, Outbox& out) {
  std::string bye = proto::encode_bye(reason);
  bool anyone = false;
  workers_.for_each([&](const Worker& w) {
    out.send(w.peer, bye);
    anyone = true;
  });
  bosses_.for_each_peer([&](const PeerId& peer, bool) {
    out.send(peer, bye);
    anyone = true;
  });
  return anyone;
}

void ManagerCore::worker_gone(Worker& w, const std::string& why, Outbox& out) {
  if (w.inflight.empty()) log::info("worker {} ({} pid {}) gone: {}", w.id, w.host, w.pid, why);
  else
    log::warn("worker {} ({} pid {}) lost: {}; requeueing its {} task(s)", w.id, w.host, w.pid, why,
              w.inflight.size());
  std::vector<TaskId> inflight(w.inflight.begin(), w.inflight.end());
  for (const TaskId& id : inflight)
    for (std::uint64_t become : becomes_.of_service(id))
      answer_become(become, false, "the service's worker " + w.id + " was lost: " + why, 0, out);
  for (const TaskId& id : inflight) {
    TaskRecord* t = tasks_.find(id);
    if (!t) continue;
    tasks_.unassign(*t, changes_);
    tasks_.attempt_failed(
        *t,
        "worker " + w.id + " (" + w.host + ") lost while running " + t->task.function + ": " + why,
        changes_);
  }
  apply(out);
  remember_released(w, inflight);
  workers_.remove(w);  // w is gone from here on
}

// Drops a boss that left (BYE) or stayed away past its grace period: its
// tasks and results go (running ones are stopped), except detached services,
// which outlive it; the boss itself goes once it owns nothing.
void ManagerCore::forget_boss(Boss& b, std::string_view why, Outbox& out) {
  std::vector<TaskId> mine, orphaned;
  std::size_t kept = 0;  // results kept for `uni result` (held apart): not dropped
  for (const TaskId& id : tasks_.tasks_of(b.session)) {
    const TaskRecord* t = tasks_.find(id);
    if (t->is(proto::kFlagDetached) && t->state != TaskState::kDone) {
      if (t->state == TaskState::kWaitingModule) orphaned.push_back(id);
      continue;
    }
    mine.push_back(id);
    kept += t->is(proto::kFlagKeepResult) && t->state == TaskState::kDone;
  }
  // Detached tasks outlive their boss, but not when they still wait for the
  // module only that boss was asked for: they would wait, and hold their
  // arguments, for ever.
  for (const TaskId& id : orphaned) {
    count(Refusal::kDetachedExpired);
    tasks_.fail(*tasks_.find(id), Status::kRejected,
                "the manager refused the task: its boss left before uploading its module",
                changes_);
  }
  if (!orphaned.empty()) {
    apply(out);  // a result to keep (flag keep-result) is kept here
    for (const TaskId& id : orphaned) mine.push_back(id);  // and nobody collects the rest
    log::warn("boss {:016x} {}: dropped its {} detached task(s) still waiting for their module",
              b.session, why, orphaned.size());
  }
  if (mine.size() > kept)
    log::info("boss {:016x} {}: dropping its {} task(s) and result(s)", b.session, why,
              mine.size() - kept);
  for (const TaskId& id : mine) {
    const TaskRecord* t = tasks_.find(id);
    if (!t) continue;  // an orphan that apply() dropped already
    if (t->state == TaskState::kRunning && t->worker)
      out.send(t->worker->peer, proto::encode_cancel({id}));
    tasks_.erase(id, changes_);
  }
  apply(out);
  if (!claims_.empty()) claims_on_forget(b.session, out);
  // Its services still run; the record goes with the last of them.
  bosses_.forget(b, tasks_.count_of(b.session) > 0);  // b may be gone from here on
}

// ---- status ------------------------------------------------------------------------------

proto::StatusReport ManagerCore::status(Clock::time_point now) const {
  proto::StatusReport r;
  r.manager = manager_id_;
  r.version = UNI_VERSION_STRING;
  r.endpoint = endpoint_;
  // "running" counts tasks executing, as the workers' heartbeats report them:
  // a worker also holds prefetched tasks, which are "assigned" but wait there
  // for a slot, or for their module.
  for (const Worker* w : workers_.oldest_first()) {
    proto::StatusReport::Worker& out = r.workers.emplace_back();
    out.id = w->id;
    out.host = w->host;
    out.pid = w->pid;
    out.slots = w->slots;
    out.busy = w->busy();
    out.assigned = w->inflight.size();
    out.capacity = w->capacity;
    out.platform = workers_.platform_name(w->platform);
    out.isolation = w->isolation;
    out.last_seen_ms = ms_between(w->last_seen, now);
    out.completed = w->completed;
    out.failed = w->failed;
    out.heartbeat_age_ms = ms_between(w->last_heartbeat, now);
    out.uptime_ms = ms_between(w->joined, now);
    out.note = w->note;
    for (std::uint16_t p : w->also_platforms)
      if (auto capability = proto::platform_capability(workers_.platform_name(p));
          !capability.empty())
        out.capabilities.emplace_back(capability);
    r.running += out.busy;
  }
  r.queue = tasks_.count(TaskState::kQueued);
  r.waiting_for_module = tasks_.count(TaskState::kWaitingModule);
  r.assigned = tasks_.count(TaskState::kRunning);
  // Services are listed from submission on, queued ones too: a service that
  // waits for a worker must show its id, so that it can be stopped.
  for (const TaskId& id : tasks_.services()) {
    const TaskRecord* t = tasks_.find(id);
    proto::StatusReport::Service& out = r.services.emplace_back();
    out.id = id.str();
    out.state = t->state != TaskState::kRunning ? proto::ServiceState::kQueued
                : t->stopping                   ? proto::ServiceState::kStopping
                : t->started                    ? proto::ServiceState::kRunning
                                                : proto::ServiceState::kStarting;
    out.started = t->started;
    out.worker = t->worker ? t->worker->id : std::string();
    out.host = t->worker ? t->worker->host : std::string();
    out.function = t->task.function;
    out.uptime_ms = t->started ? ms_between(t->since, now) : 0;
    out.module = t->task.module.hex();
    out.becomes = t->becomes;
  }
  r.bosses = bosses_.connected_count();
  const TaskTotals& totals = tasks_.totals();
  r.totals.submitted = totals.submitted;
  r.totals.completed = totals.completed;
  r.totals.failed = totals.failed;
  r.totals.requeued = totals.requeued;
  r.totals.modules = modules_.count();
  r.totals.module_bytes = modules_.bytes();
  r.totals.module_uploads = module_totals_.uploads;
  r.totals.module_upload_bytes = module_totals_.upload_bytes;
  r.totals.module_fetches = module_totals_.fetches;
  r.totals.module_fetch_bytes = module_totals_.fetch_bytes;
  r.totals.cancelled = totals.cancelled;
  r.totals.kept_results = kept_.count();
  r.uptime_ms = ms_between(started_, now);
  r.tasks_per_s = metrics_.throughput.rate(now, totals.completed + totals.failed, 10);
  r.recent_failures = metrics_.failures.list(now);
  const TransportCounts& transport = metrics_.transport;
  r.limits.descriptors = transport.descriptors;
  r.limits.descriptor_limit = transport.descriptor_limit;
  r.limits.connections = transport.connections;
  r.limits.assembling_bytes = transport.assembling_bytes;
  r.limits.queued_bytes = tasks_.bytes();
  r.limits.max_queued_bytes = config_.max_queued_bytes;
  std::array<std::uint64_t, kRefusals> refused = metrics_.refused;
  refused[static_cast<std::size_t>(Refusal::kHandshakesShed)] += transport.handshakes_shed;
  refused[static_cast<std::size_t>(Refusal::kHandshakesFailed)] += transport.handshakes_failed;
  for (std::size_t i = 0; i < kRefusals; ++i)
    r.limits.refused.emplace_back(refusal_name(static_cast<Refusal>(i)), refused[i]);
  return r;
}

MetricsSnapshot ManagerCore::snapshot(Clock::time_point now) const {
  return {status(now), metrics_.run_time, metrics_.queue_wait, metrics_.throughput.per_second()};
}

}  // namespace uni::manager
