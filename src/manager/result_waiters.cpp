// Held FETCH_RESULT requests (see result_waiters.hpp).
#include "manager/result_waiters.hpp"

namespace uni::manager {

bool ResultWaiters::hold(HeldQuery query) {
  if (held_.size() >= kMaxHeld) return false;
  const std::uint64_t serial = next_serial_++;
  by_deadline_.emplace(query.deadline, serial);
  by_task_.emplace(query.id, serial);
  held_.emplace(serial, std::move(query));
  return true;
}

HeldQuery ResultWaiters::release(std::uint64_t serial) {
  auto it = held_.find(serial);
  HeldQuery q = std::move(it->second);
  held_.erase(it);
  by_deadline_.erase({q.deadline, serial});
  auto [first, last] = by_task_.equal_range(q.id);
  for (auto t = first; t != last; ++t)
    if (t->second == serial) {
      by_task_.erase(t);
      break;
    }
  return q;
}

std::vector<HeldQuery> ResultWaiters::take(const proto::TaskId& id) {
  std::vector<std::uint64_t> serials;
  auto [first, last] = by_task_.equal_range(id);
  for (auto t = first; t != last; ++t) serials.push_back(t->second);
  std::vector<HeldQuery> out;
  out.reserve(serials.size());
  for (std::uint64_t s : serials) out.push_back(release(s));
  return out;
}

std::vector<HeldQuery> ResultWaiters::expired(Clock::time_point now) {
  std::vector<HeldQuery> out;
  while (!by_deadline_.empty() && by_deadline_.begin()->first <= now)
    out.push_back(release(by_deadline_.begin()->second));
  return out;
}

void ResultWaiters::drop_peer(const PeerId& peer) {
  std::vector<std::uint64_t> serials;
  for (const auto& [serial, q] : held_)
    if (q.peer == peer) serials.push_back(serial);
  for (std::uint64_t s : serials) release(s);
}

}  // namespace uni::manager
