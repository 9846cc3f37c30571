// Workers, platforms, credit and the short lists (see worker_registry.hpp).
#include "manager/worker_registry.hpp"

#include "manager/task_table.hpp"
#include "proto/platforms.hpp"

namespace uni::manager {

WorkerRegistry::Joined WorkerRegistry::join(const PeerId& peer, const proto::Hello& hello,
                                            Clock::time_point now) {
  auto& slot = workers_[peer];
  bool known = slot != nullptr;
  if (!slot) slot = std::make_unique<Worker>();
  Worker& w = *slot;
  w.peer = peer;
  if (known && w.id != hello.worker_id) {
    if (auto it = by_id_.find(w.id); it != by_id_.end() && it->second == &w) by_id_.erase(it);
  }
  w.id = hello.worker_id;
  by_id_[w.id] = &w;
  w.host = hello.host;
  w.pid = hello.pid;
  w.slots = hello.slots;
  w.capacity = hello.capacity;
  if (known) {
    --per_platform_[w.platform];
    for (std::uint16_t p : w.also_platforms) --per_platform_[p];
  }
  w.platform = platform_index(hello.platform);
  ++per_platform_[w.platform];
  w.also_platforms.clear();
  for (const std::string& name : hello.also_platforms) {
    std::uint16_t p = platform_index(name);
    if (p == w.platform ||
        std::find(w.also_platforms.begin(), w.also_platforms.end(), p) != w.also_platforms.end())
      continue;
    w.also_platforms.push_back(p);
    ++per_platform_[p];
  }
  w.isolation = hello.isolation;
  w.last_seen = now;
  if (!known) w.joined = w.last_heartbeat = now;
  return {w, known};
}

Reconciliation WorkerRegistry::reconcile(const Worker& w,
                                         const std::vector<proto::RunningTask>& held,
                                         const TaskTable& table) const {
  Reconciliation out;
  std::unordered_set<proto::TaskId, proto::TaskIdHash> listed;
  for (const proto::RunningTask& rt : held) listed.insert(rt.id);
  for (const proto::TaskId& id : w.inflight)  // sent but never received
    if (!listed.count(id)) out.never_arrived.push_back(id);
  std::unordered_set<proto::TaskId, proto::TaskIdHash> seen;
  for (const proto::RunningTask& rt : held) {
    if (!seen.insert(rt.id).second) continue;  // listed twice: once is enough
    const TaskRecord* t = table.find(rt.id);
    if (!t) {
      out.unknown.push_back(rt);
    } else if (t->state == TaskState::kRunning && t->worker == &w) {
      if (t->stopping) out.stopping.push_back(rt.id);  // the first CANCEL may have been lost
    } else if (t->state == TaskState::kQueued || t->state == TaskState::kAwaitingBoss ||
               t->state == TaskState::kRecovering || t->state == TaskState::kWaitingModule) {
      out.waiting.push_back(rt);
    } else {
      out.duplicates.push_back(rt.id);
    }
  }
  return out;
}

void WorkerRegistry::remove(Worker& w) {
  --per_platform_[w.platform];
  for (std::uint16_t p : w.also_platforms) --per_platform_[p];
  std::erase(with_room_, &w);
  std::erase(with_output_, &w);
  if (auto it = by_id_.find(w.id); it != by_id_.end() && it->second == &w) by_id_.erase(it);
  PeerId peer = w.peer;
  workers_.erase(peer);
}

void WorkerRegistry::rebind(Worker& w, const PeerId& peer) {
  auto it = workers_.find(w.peer);
  std::unique_ptr<Worker> record = std::move(it->second);
  workers_.erase(it);
  w.peer = peer;
  workers_[peer] = std::move(record);
}

void WorkerRegistry::set_credit(Worker& w, std::uint32_t capacity) {
  w.capacity = capacity;
  note_room(w);
}

std::vector<Worker*> WorkerRegistry::silent_since(Clock::time_point cutoff) const {
  std::vector<Worker*> out;
  for (const auto& [peer, w] : workers_)
    if (w->last_seen < cutoff) out.push_back(w.get());
  return out;
}

std::vector<const Worker*> WorkerRegistry::oldest_first() const {
  std::vector<const Worker*> out;
  out.reserve(workers_.size());
  for (const auto& [peer, w] : workers_) out.push_back(w.get());
  std::sort(out.begin(), out.end(),
            [](const Worker* a, const Worker* b) { return a->joined < b->joined; });
  return out;
}

std::string WorkerRegistry::platform_need(std::uint16_t platform) const {
  return proto::platform_need(platforms_[platform]);
}

std::uint16_t WorkerRegistry::platform_index(const std::string& platform) {
  for (std::size_t i = 0; i < platforms_.size(); ++i)
    if (platforms_[i] == platform) return static_cast<std::uint16_t>(i);
  platforms_.push_back(platform);
  per_platform_.push_back(0);
  return static_cast<std::uint16_t>(platforms_.size() - 1);
}

void WorkerRegistry::note_room(Worker& w) {
  if (!w.listed_room && w.has_room()) {
    w.listed_room = true;
    with_room_.push_back(&w);
  }
}

void WorkerRegistry::note_output(Worker& w) {
  if (!w.listed_output) {
    w.listed_output = true;
    with_output_.push_back(&w);
  }
}

void WorkerRegistry::prune_room() {
  std::erase_if(with_room_, [](Worker* w) {
    w->listed_room = w->has_room();
    return !w->listed_room;
  });
}

}  // namespace uni::manager
