// BECOME requests on the worker (see service_becomes.hpp).
#include "worker/service_becomes.hpp"

#include <cstdio>

#include "common/log.hpp"

namespace uni::worker {

namespace {
std::string seconds_text(std::uint32_t ms) {
  char out[32];
  std::snprintf(out, sizeof(out), "%g", ms / 1000.0);
  return out;
}
}  // namespace

void ServiceBecomes::refuse(const proto::BecomeRequest& r, std::string why) {
  reply_(proto::BecomeReply({r.request, r.service, false, std::move(why), 0, 0}));
}

void ServiceBecomes::request(const proto::BecomeRequest& r, std::uint64_t tag,
                             Clock::time_point now) {
  if (tag == 0) return refuse(r, "the service no longer runs on this worker");
  for (const auto& [id, p] : pending_) {
    if (p.tag != tag) continue;
    reply_(proto::BecomeReply(
        {r.request, r.service, false, "another become of this service is in progress", 0, 0}));
    return;
  }
  Pending& p = pending_[r.request];
  p.request = r;
  p.tag = tag;
  // The limit counts from here: a module fetch is part of the handover's wait.
  p.deadline = now + std::chrono::milliseconds(r.timeout_ms);
  if (cache_.acquire(r.module)) {
    p.pinned = true;
    ask(p, now);
    return;
  }
  bool already = false;
  for (const auto& [id, other] : pending_)
    already |= &other != &p && other.fetching && other.request.module == r.module;
  p.fetching = true;
  if (!already) fetch_(r.module);
}

void ServiceBecomes::module_arrived(const proto::ModuleReply& reply, Clock::time_point now) {
  std::vector<std::uint64_t> waiting;
  for (const auto& [id, p] : pending_)
    if (p.fetching && p.request.module == reply.hash) waiting.push_back(id);
  if (waiting.empty()) return;
  std::optional<std::string> error;
  bool have = cache_.acquire(reply.hash);
  if (have) cache_.release(reply.hash);
  else if (!reply.bytes) error = reply.error.empty() ? "the broker sent no module" : reply.error;
  else error = cache_.store(reply.hash, *reply.bytes, reply.signatures);
  for (std::uint64_t id : waiting) {
    Pending& p = pending_.at(id);
    p.fetching = false;
    if (!error && cache_.acquire(reply.hash)) {
      p.pinned = true;
      ask(p, now);
    } else {
      answer(id, false,
             "cannot fetch module " + reply.hash.hex().substr(0, 12) + ": " +
                 error.value_or("it vanished from the cache"),
             0);
    }
  }
}

void ServiceBecomes::ask(Pending& p, Clock::time_point) {
  std::string refusal = runner_.become(
      p.tag, p.request.request,
      ModuleRef{cache_.path(p.request.module), p.request.module, cache_.image(p.request.module)},
      p.request.function);
  if (!refusal.empty()) {
    answer(p.request.request, false, std::move(refusal), 0);
    return;
  }
  p.asked = true;
  log::info("service {}: asked to become {}() of module {}", p.request.service.str(),
            p.request.function, p.request.module.hex().substr(0, 12));
}

void ServiceBecomes::poll(Clock::time_point now) {
  if (pending_.empty()) return;
  runner_.take_become_outcomes(outcomes_);
  for (BecomeOutcome& o : outcomes_) {
    auto it = pending_.find(o.request);
    if (it == pending_.end()) continue;  // answered already (its time ran out)
    if (o.ok) {
      // The service runs the new module now: it stays pinned until it ends.
      pins_[it->second.tag].push_back(it->second.request.module);
      it->second.pinned = false;
    }
    answer(o.request, o.ok, std::move(o.text), o.handover_ns);
  }
  outcomes_.clear();
  std::vector<std::uint64_t> expired;
  for (auto& [id, p] : pending_)
    if (now >= p.deadline) expired.push_back(id);
  for (std::uint64_t id : expired) {
    Pending& p = pending_.at(id);
    const std::string limit = seconds_text(p.request.timeout_ms) + " s";
    if (!p.asked) {  // still fetching its module
      answer(id, false, "the new module did not arrive within " + limit, 0);
    } else if (runner_.withdraw_become(p.tag, id)) {
      answer(id, false,
             "the service did not hand over within " + limit +
                 " (does its loop poll ctx.handover_fd()?); the request was withdrawn and it "
                 "runs on unchanged",
             0);
    } else if (!p.accepted_late) {
      // It handed over just now: the new version gets as long again to take over.
      p.accepted_late = true;
      p.deadline = now + std::chrono::milliseconds(p.request.timeout_ms);
    } else {
      answer(id, false,
             "the service handed over, but neither the new version nor the old one took over "
             "within " +
                 limit + " more",
             0);
    }
  }
}

void ServiceBecomes::service_ended(std::uint64_t tag, const std::string& why) {
  std::vector<std::uint64_t> ended;
  for (const auto& [id, p] : pending_)
    if (p.tag == tag) ended.push_back(id);
  for (std::uint64_t id : ended) answer(id, false, why, 0);
  auto pins = pins_.find(tag);
  if (pins == pins_.end()) return;
  for (const ModuleHash& hash : pins->second) cache_.release(hash);
  pins_.erase(pins);
}

std::vector<ModuleHash> ServiceBecomes::fetching() const {
  std::vector<ModuleHash> out;
  for (const auto& [id, p] : pending_)
    if (p.fetching) out.push_back(p.request.module);
  return out;
}

void ServiceBecomes::answer(std::uint64_t request, bool ok, std::string text,
                            std::uint64_t handover_ns) {
  auto it = pending_.find(request);
  if (it == pending_.end()) return;
  Pending& p = it->second;
  if (p.pinned) cache_.release(p.request.module);
  if (ok)
    log::info("service {} became {}() of module {} (handover {} us)", p.request.service.str(),
              p.request.function, p.request.module.hex().substr(0, 12), handover_ns / 1000);
  else log::warn("service {}: become refused: {}", p.request.service.str(), text);
  reply_(proto::BecomeReply({request, p.request.service, ok, std::move(text), handover_ns, 0}));
  pending_.erase(it);
}

}  // namespace uni::worker
