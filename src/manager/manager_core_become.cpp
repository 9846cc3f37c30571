// The manager core's handling of BECOME and BECOME_REPLY (docs/protocol.md
// 7.21, 7.22): a boss's request is checked against the service's record,
// parked until the boss has uploaded the new module, and forwarded to the
// service's worker; the worker's answer goes back to the boss, and a
// success changes the service's record (its module, its function, its
// become count), so that `uni status` shows what runs and a rerun after a
// lost worker starts the new code.
#include <cstdio>
#include <limits>

#include "common/log.hpp"
#include "manager/manager_core.hpp"

namespace uni::manager {

namespace {
// A request is answered by its worker within twice its limit (the service's
// hand-over, then the new version's take-over); past that and this margin
// the manager answers it itself, so that no boss waits for ever.
constexpr auto kBecomeMargin = std::chrono::seconds(30);
}  // namespace

void ManagerCore::on_become(const PeerId& peer, proto::BecomeRequest r, Clock::time_point now,
                            Outbox& out) {
  Boss* boss = bosses_.at(peer);
  if (!boss) return;
  now_ = now;
  const Identity& who = *boss->identity;
  const proto::Refusal about{proto::Type::kBecome, r.request, {r.service}};
  if (!may(who.role, Action::kBecome))
    return ManagerCore::refuse(peer, role_refusal(who, Action::kBecome), about, out);
  if (!owns(who, r.service))
    return ManagerCore::refuse(peer, owner_refusal(who, Action::kBecome, r.service), about, out);
  auto refuse = [&](const std::string& why) {
    log::info("become of service {} refused: {}", r.service.str(), why);
    out.send(peer, proto::encode_become_reply({r.request, r.service, false, why, 0, 0}));
  };
  const std::string name = "service " + r.service.str();
  const TaskRecord* t = tasks_.find(r.service);
  if (!t || !t->is(proto::kFlagService) || t->state == TaskState::kDone)
    return refuse("no " + name + " is running (uni status lists the services)");
  if (t->stopping) return refuse(name + " is being stopped");
  // Sent to a worker is enough: its start is reported with the worker's next
  // heartbeat, which can come after the service already answers its clients
  // (a boss that saw it serve was refused). The worker knows whether its
  // executor runs the service, and says so if it does not yet.
  if (t->state != TaskState::kRunning || !t->worker)
    return refuse(name + " has not started yet: it waits for a worker (uni status shows it " +
                  "running once it runs)");
  if (becomes_.in_progress(r.service))
    return refuse("a become of " + name + " is already in progress");
  const auto deadline = now + 2 * std::chrono::milliseconds(r.timeout_ms) + kBecomeMargin;
  const ModuleHash module = r.module;
  const bool have = modules_.find(module) != nullptr;
  std::uint64_t id = becomes_.add(boss->session, std::move(r), !have, deadline).request.request;
  modules_.pin(module);  // until answered: the worker fetches it
  if (have) return forward_become(id, out);
  if (boss->asked.insert(module).second) out.send(peer, proto::encode_need_module(module));
}

void ManagerCore::forward_become(std::uint64_t id, Outbox& out) {
  BecomeInFlight& b = *becomes_.find(id);
  const TaskRecord* t = tasks_.find(b.request.service);
  const StoredModule* mod = modules_.find(b.request.module);
  if (!t || t->state != TaskState::kRunning || !t->worker || t->stopping)
    return answer_become(id, false, "the service ended before the new module arrived", 0, out);
  const std::string& platform = workers_.platform_name(t->worker->platform);
  if (mod->platform != platform)
    return answer_become(id, false,
                         "the module is built for " + mod->platform + ", the service's worker " +
                             t->worker->id + " runs " + platform,
                         0, out);
  b.parked = false;
  out.send(t->worker->peer, proto::encode_become(b.request));
}

void ManagerCore::answer_become(std::uint64_t id, bool ok, std::string text,
                                std::uint64_t handover_ns, Outbox& out) {
  BecomeInFlight* b = becomes_.find(id);
  if (!b) return;
  proto::BecomeReply reply{b->boss_request, b->request.service, ok,
                           std::move(text), handover_ns,        0};
  if (TaskRecord* t = tasks_.find(b->request.service)) {
    if (ok) {
      // The service runs the new code: its record pins the new module, and
      // a rerun (its worker lost) starts the new function.
      modules_.pin(b->request.module);
      modules_.unpin(t->task.module);
      t->task.module = b->request.module;
      t->task.function = b->request.function;
      if (t->becomes < std::numeric_limits<std::uint16_t>::max()) ++t->becomes;
      log::info("service {} became {}() of module {} (handover {} us, become #{})",
                reply.service.str(), t->task.function, t->task.module.hex().substr(0, 12),
                handover_ns / 1000, t->becomes);
    } else {
      log::info("become of service {} failed: {}", reply.service.str(), reply.text);
    }
    reply.becomes = t->becomes;
  }
  modules_.unpin(b->request.module);
  // Sent to a boss marked away too: its connection may still be up (it only
  // went silent); if not, the send fails and nothing else depends on it.
  const Boss* boss = bosses_.find(b->session);
  if (boss && !boss->peer.empty()) out.send(boss->peer, proto::encode_become_reply(reply));
  becomes_.erase(id);
}

void ManagerCore::on_become_reply(const PeerId& peer, proto::BecomeReply reply, Outbox& out) {
  Worker* w = workers_.find(peer);
  BecomeInFlight* b = becomes_.find(reply.request);
  if (!w || !b || b->parked || b->request.service != reply.service) return;
  const TaskRecord* t = tasks_.find(reply.service);
  if (!t || t->worker != w) return;  // not the service's worker: a late reply
  answer_become(reply.request, reply.ok, std::move(reply.text), reply.handover_ns, out);
}

// A module arrived (PUT_MODULE), or its upload by `refused_session` was
// refused: the requests parked for it go on, or fail.
void ManagerCore::becomes_after_upload(const ModuleHash& hash,
                                       std::optional<std::uint64_t> refused_session,
                                       const std::string& error, Outbox& out) {
  if (becomes_.empty()) return;
  for (std::uint64_t id : becomes_.parked_for(hash)) {
    if (!refused_session) forward_become(id, out);
    else if (becomes_.find(id)->session == *refused_session)
      answer_become(id, false, "the module upload was refused: " + error, 0, out);
  }
}

void ManagerCore::becomes_on_timer(Outbox& out) {
  for (std::uint64_t id : becomes_.expired(now_)) {
    const bool parked = becomes_.find(id)->parked;
    answer_become(id, false,
                  parked ? "the new module never arrived"
                         : "the service's worker did not answer the become request",
                  0, out);
  }
}

}  // namespace uni::manager
