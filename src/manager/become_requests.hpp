// The manager's BECOME requests in flight (docs/protocol.md 7.21): which
// boss asked (and under which of its request ids), for which service,
// parked while the boss uploads the new module or forwarded to the service's
// worker under an id of the manager's, until the worker's BECOME_REPLY, the
// worker's loss or the request's deadline answers it.
#pragma once

#include <cstdint>
#include <unordered_map>
#include <vector>

#include "manager/outbox.hpp"
#include "proto/become.hpp"

namespace uni::manager {

struct BecomeInFlight {
  std::uint64_t session = 0;       // the boss that asked
  std::uint64_t boss_request = 0;  // its id for the request
  // As the worker gets it: `request` is the manager's id.
  proto::BecomeRequest request;
  bool parked = false;  // waits for the boss to upload its module
  Clock::time_point deadline{};
};

class BecomeRequests {
 public:
  // Records a request from boss `session`; returns the manager's id for it.
  // It is answered by `deadline` at the latest.
  BecomeInFlight& add(std::uint64_t session, proto::BecomeRequest request, bool parked,
                      Clock::time_point deadline);
  BecomeInFlight* find(std::uint64_t id) {
    auto it = requests_.find(id);
    return it == requests_.end() ? nullptr : &it->second;
  }
  void erase(std::uint64_t id) { requests_.erase(id); }
  bool empty() const { return requests_.empty(); }

  bool in_progress(const proto::TaskId& service) const;
  // Whether a request for `module` went to a service for which `to(service)`.
  template <class Pred>
  bool any_sent(const ModuleHash& module, Pred&& to) const {
    for (const auto& [id, b] : requests_)
      if (!b.parked && b.request.module == module && to(b.request.service)) return true;
    return false;
  }
  // Ids, each a snapshot to act on (the caller erases as it answers).
  std::vector<std::uint64_t> parked_for(const ModuleHash& module) const;
  std::vector<std::uint64_t> of_service(const proto::TaskId& service) const;
  std::vector<std::uint64_t> expired(Clock::time_point now) const;

 private:
  std::uint64_t next_id_ = 1;
  std::unordered_map<std::uint64_t, BecomeInFlight> requests_;
};

}  // namespace uni::manager
