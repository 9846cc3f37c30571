// Boss records, result routing, notices and grace periods (see boss_router.hpp).
#include "manager/boss_router.hpp"

#include "manager/task_table.hpp"
#include "manager/worker_registry.hpp"
#include "proto/batch.hpp"

namespace uni::manager {

Boss& BossRouter::record(std::uint64_t session, Clock::time_point now) {
  auto& slot = bosses_[session];
  if (!slot) {
    slot = std::make_unique<Boss>();
    slot->session = session;
    slot->last_seen = now;
  }
  return *slot;
}

Boss& BossRouter::connect(std::uint64_t session, const PeerId& peer, Clock::time_point now) {
  Boss& b = record(session, now);
  if (b.peer != peer) {
    if (!b.peer.empty()) by_peer_.erase(b.peer);
    release(peer);  // it spoke for another session before
    b.peer = peer;
    by_peer_[peer] = &b;
  }
  b.connected = true;
  b.forgotten = false;
  b.last_seen = now;
  b.asked.clear();
  return b;
}

void BossRouter::release(const PeerId& peer) {
  auto it = by_peer_.find(peer);
  if (it == by_peer_.end()) return;
  it->second->peer.clear();
  it->second->connected = false;
  by_peer_.erase(it);
}

void BossRouter::result_ready(const proto::TaskId& id) {
  Boss* b = find(id.session);
  if (!b || !b->connected) return;  // resent from the table when it says HELLO again
  b->results_out.push_back(id);
  note_output(*b);
}

void BossRouter::resend(Boss& b, std::vector<proto::TaskId> finished) {
  b.results_out = std::move(finished);
  if (!b.results_out.empty()) note_output(b);
}

void BossRouter::flush(const TaskTable& table, Outbox& out) {
  // Batches are cut at proto::kBatchBytes by their encoded size, far below
  // the message limit.
  for (Boss* b : with_output_) {
    b->listed_output = false;
    if (b->results_out.empty()) continue;
    if (!b->connected) {
      b->results_out.clear();  // resent from the task table when it says HELLO again
      continue;
    }
    proto::Batcher<proto::Result> batches(proto::kBatchBytes,
                                          [&](const std::vector<const proto::Result*>& batch) {
                                            out.send_results(b->peer, proto::encode_results(batch));
                                          });
    for (const proto::TaskId& id : b->results_out) {
      const TaskRecord* rec = table.find(id);
      if (!rec || rec->state != TaskState::kDone || !rec->result) continue;
      batches.add(*rec->result);
    }
    batches.flush();
    b->results_out.clear();
  }
  with_output_.clear();
}

void BossRouter::undelivered(const PeerId& peer) {
  if (Boss* b = at(peer)) b->connected = false;
}

void BossRouter::module_answered(const ModuleHash& hash) {
  for (auto& [session, b] : bosses_) b->asked.erase(hash);
}

void BossRouter::note_unserved(std::uint64_t session, std::uint16_t platform,
                               Clock::time_point now) {
  record(session, now).waiting_since.try_emplace(platform, now);
}

void BossRouter::platform_served(std::uint16_t platform) {
  for (auto& [session, b] : bosses_) {
    b->waiting_since.erase(platform);
    b->noticed.erase(platform);
  }
}

void BossRouter::send_notices(Clock::time_point now, std::chrono::milliseconds after,
                              const WorkerRegistry& workers, Outbox& out) {
  for (auto& [session, b] : bosses_) {
    if (!b->connected) continue;
    for (auto& [platform, since] : b->waiting_since) {
      if (now - since < after || b->noticed.count(platform)) continue;
      if (workers.workers_for(platform) > 0) continue;
      b->noticed.insert(platform);
      out.send(b->peer,
               proto::encode_notice("no worker for " + workers.platform_need(platform) +
                                    " is connected; tasks wait in the queue until one joins"));
    }
  }
}

std::vector<Boss*> BossRouter::expire(Clock::time_point now, std::chrono::milliseconds timeout,
                                      std::chrono::milliseconds grace) {
  std::vector<Boss*> expired;
  for (auto& [session, b] : bosses_) {
    if (b->connected && now - b->last_seen > timeout) b->connected = false;
    if (!b->connected && !b->forgotten && now - b->last_seen > grace) expired.push_back(b.get());
  }
  return expired;
}

void BossRouter::forget(Boss& b, bool owns_tasks) {
  if (!b.peer.empty()) by_peer_.erase(b.peer);
  if (!owns_tasks) {
    erase(b);  // b is gone from here on
    return;
  }
  b.results_out.clear();
  b.connected = false;
  b.forgotten = true;
  b.peer.clear();
}

void BossRouter::drop_if_forgotten(std::uint64_t session) {
  if (Boss* b = find(session); b && b->forgotten) erase(*b);
}

std::size_t BossRouter::connected_count() const {
  std::size_t n = 0;
  for (const auto& [session, b] : bosses_) n += b->connected;
  return n;
}

void BossRouter::note_output(Boss& b) {
  if (!b.listed_output) {
    b.listed_output = true;
    with_output_.push_back(&b);
  }
}

void BossRouter::erase(Boss& b) {
  if (b.listed_output) std::erase(with_output_, &b);
  if (!b.peer.empty()) {
    auto it = by_peer_.find(b.peer);
    if (it != by_peer_.end() && it->second == &b) by_peer_.erase(it);
  }
  bosses_.erase(b.session);
}

}  // namespace uni::manager
