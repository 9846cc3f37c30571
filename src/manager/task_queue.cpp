// Round-robin lanes of queued task ids (see task_queue.hpp).
#include "manager/task_queue.hpp"

namespace uni::manager {

void TaskQueue::push(std::uint16_t platform, std::uint64_t session, const proto::TaskId& id,
                     bool front) {
  if (platform >= platforms_.size()) platforms_.resize(platform + 1);
  PlatformQueue& queue = platforms_[platform];
  Lane& lane = queue.lanes[session];
  if (lane.seqs.empty()) queue.ring.push_back(session);
  if (front) lane.seqs.push_front(id.seq);
  else lane.seqs.push_back(id.seq);
}

std::optional<proto::TaskId> TaskQueue::pop(std::uint16_t platform) {
  if (platform >= platforms_.size()) return std::nullopt;
  PlatformQueue& queue = platforms_[platform];
  while (!queue.ring.empty()) {
    std::uint64_t session = queue.ring.front();
    queue.ring.pop_front();
    auto lane = queue.lanes.find(session);
    if (lane == queue.lanes.end() || lane->second.seqs.empty()) {
      if (lane != queue.lanes.end()) queue.lanes.erase(lane);
      continue;
    }
    proto::TaskId id{session, lane->second.seqs.front()};
    lane->second.seqs.pop_front();
    if (lane->second.seqs.empty()) queue.lanes.erase(lane);
    else queue.ring.push_back(session);
    return id;
  }
  return std::nullopt;
}

bool TaskQueue::empty(std::uint16_t platform) const {
  return platform >= platforms_.size() || platforms_[platform].ring.empty();
}

}  // namespace uni::manager
