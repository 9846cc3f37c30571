// The manager core's kept results (docs/protocol.md 7.23, 7.24): a task
// submitted with kFlagKeepResult (and kFlagDetached, so that it outlives its
// boss) has its final result kept in KeptResults when it ends; FETCH_RESULT
// reads it by id, for its owner (access.hpp), and is held until the task ends when the
// asker waits. Tasks without the flag never come here.
#include "common/log.hpp"
#include "manager/manager_core.hpp"

namespace uni::manager {

namespace {

const char* pending_detail(TaskState state) {
  switch (state) {
    case TaskState::kWaitingModule: return "waiting-module";
    case TaskState::kQueued: return "queued";
    case TaskState::kRunning: return "running";
    case TaskState::kAwaitingBoss:
    case TaskState::kRecovering: return "recovering";
    case TaskState::kDone: return "done";
  }
  return "queued";
}

std::uint64_t ms_of(Clock::duration d) {
  return d.count() <= 0 ? 0
                        : static_cast<std::uint64_t>(
                              std::chrono::duration_cast<std::chrono::milliseconds>(d).count());
}

}  // namespace

void ManagerCore::on_fetch_result(const PeerId& peer, const proto::ResultQuery& query,
                                  Clock::time_point now, Outbox& out) {
  now_ = now;
  if (const Identity* who = identity_of(peer)) {
    const proto::Refusal about{proto::Type::kFetchResult, query.request, {query.id}};
    if (!may(who->role, Action::kFetchResult))
      return refuse(peer, role_refusal(*who, Action::kFetchResult), about, out);
    // Read from the id, not from the table: a refusal tells nothing of
    // whether there is such a task.
    if (!owns(*who, query.id))
      return refuse(peer, owner_refusal(*who, Action::kFetchResult, query.id), about, out);
  }
  proto::KeptResultReply reply = kept_reply(query.request, query.id);
  // Held until the task ends or the wait is over (kept_on_timer); past
  // ResultWaiters::kMaxHeld answered "pending" now, and the asker asks again.
  if (reply.state == proto::KeptState::kPending && query.wait_ms > 0 &&
      result_waiters_.hold(
          {peer, query.request, query.id, now + std::chrono::milliseconds(query.wait_ms)}))
    return;
  out.send(peer, proto::encode_kept_result(reply));
}

// The answer for `id` as things stand: its kept result; "pending" while a
// task to be kept is held; otherwise "unknown", and why, as far as the
// manager can tell — since it started (uptime_ms) it knows what it dropped
// lately, not what a previous run of it held.
proto::KeptResultReply ManagerCore::kept_reply(std::uint64_t request,
                                               const proto::TaskId& id) const {
  proto::KeptResultReply r;
  r.request = request;
  r.id = id;
  r.uptime_ms = ms_of(now_ - started_);
  r.keep_ms = static_cast<std::uint64_t>(config_.keep_results_for.count());
  if (const proto::Result* kept = kept_.find(id)) {
    r.state = proto::KeptState::kDone;
    r.result = *kept;
    return r;
  }
  const TaskRecord* t = tasks_.find(id);
  if (t && t->is(proto::kFlagKeepResult) && t->state != TaskState::kDone) {
    r.state = proto::KeptState::kPending;
    r.detail = pending_detail(t->state);
    return r;
  }
  r.state = proto::KeptState::kUnknown;
  if (std::optional<KeptResults::Dropped> why = kept_.dropped(id))
    r.detail =
        *why == KeptResults::Dropped::kExpired ? proto::kUnknownExpired : proto::kUnknownEvicted;
  else if (t) r.detail = proto::kUnknownNotKept;
  else r.detail = proto::kUnknownNeverSeen;
  return r;
}

void ManagerCore::keep_result(const TaskRecord& t, Outbox& out) {
  const proto::Result& result = *t.result;
  if (kept_.keep(result, now_))
    log::info("task {} ({}) ended {}{}; its result is kept", result.id.str(), t.task.function,
              proto::status_name(result.status),
              result.worker.empty() ? "" : " on worker " + result.worker);
  if (result_waiters_.empty()) return;
  std::vector<HeldQuery> waiting = result_waiters_.take(result.id);
  for (const HeldQuery& q : waiting)
    out.send(q.peer, proto::encode_kept_result(kept_reply(q.request, q.id)));
}

void ManagerCore::kept_on_timer(Outbox& out) {
  kept_.expire(now_);
  if (result_waiters_.empty()) return;
  for (const HeldQuery& q : result_waiters_.expired(now_))
    out.send(q.peer, proto::encode_kept_result(kept_reply(q.request, q.id)));
}

}  // namespace uni::manager
