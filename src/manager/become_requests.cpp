// The manager's BECOME requests in flight (see become_requests.hpp). Few are
// ever in flight at once: the lookups walk them all.
#include "manager/become_requests.hpp"

namespace uni::manager {

BecomeInFlight& BecomeRequests::add(std::uint64_t session, proto::BecomeRequest request,
                                    bool parked, Clock::time_point deadline) {
  const std::uint64_t id = next_id_++;
  BecomeInFlight& r = requests_[id];
  r.session = session;
  r.boss_request = request.request;
  r.request = std::move(request);
  r.request.request = id;
  r.parked = parked;
  r.deadline = deadline;
  return r;
}

bool BecomeRequests::in_progress(const proto::TaskId& service) const {
  for (const auto& [id, r] : requests_)
    if (r.request.service == service) return true;
  return false;
}

std::vector<std::uint64_t> BecomeRequests::parked_for(const ModuleHash& module) const {
  std::vector<std::uint64_t> out;
  for (const auto& [id, r] : requests_)
    if (r.parked && r.request.module == module) out.push_back(id);
  return out;
}

std::vector<std::uint64_t> BecomeRequests::of_service(const proto::TaskId& service) const {
  std::vector<std::uint64_t> out;
  for (const auto& [id, r] : requests_)
    if (r.request.service == service) out.push_back(id);
  return out;
}

std::vector<std::uint64_t> BecomeRequests::expired(Clock::time_point now) const {
  std::vector<std::uint64_t> out;
  for (const auto& [id, r] : requests_)
    if (now >= r.deadline) out.push_back(id);
  return out;
}

}  // namespace uni::manager
