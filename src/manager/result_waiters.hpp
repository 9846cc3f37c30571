// FETCH_RESULT requests the manager holds (docs/protocol.md 7.23): a reader
// of a kept result that asked to wait is answered when the task ends, or at
// its deadline, by the core's timer — a deadline in the manager rather than a
// client polling. Bounded: past kMaxHeld the core answers at once.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <unordered_map>
#include <utility>
#include <vector>

#include "manager/outbox.hpp"
#include "proto/messages.hpp"

namespace uni::manager {

struct HeldQuery {
  PeerId peer;
  std::uint64_t request = 0;  // the asker's id for it
  proto::TaskId id;
  Clock::time_point deadline{};
};

class ResultWaiters {
 public:
  // At most this many held at once (a few hundred bytes each).
  static constexpr std::size_t kMaxHeld = 10'000;

  // False if kMaxHeld are held already.
  bool hold(HeldQuery query);
  // The queries waiting for `id`, no longer held.
  std::vector<HeldQuery> take(const proto::TaskId& id);
  // The queries whose deadline is past, no longer held. Cost: those.
  std::vector<HeldQuery> expired(Clock::time_point now);
  // Forgets a peer's queries (it left). Cost: every query held.
  void drop_peer(const PeerId& peer);

  bool empty() const { return held_.empty(); }
  std::size_t size() const { return held_.size(); }

 private:
  HeldQuery release(std::uint64_t serial);

  std::uint64_t next_serial_ = 1;
  std::map<std::uint64_t, HeldQuery> held_;  // by serial
  std::set<std::pair<Clock::time_point, std::uint64_t>> by_deadline_;
  std::unordered_multimap<proto::TaskId, std::uint64_t, proto::TaskIdHash> by_task_;
};

}  // namespace uni::manager
