// The worker's side of `become` (docs/architecture.md, "Become"): the BECOME
// requests for services this worker runs, from the manager's request to the
// BECOME_REPLY — fetching the new module into the cache, asking the runner
// to hand the service over, withdrawing a request the service does not
// answer within its time limit, and keeping the modules a service has become
// pinned in the cache until it ends.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

#include "proto/become.hpp"
#include "worker/module_cache.hpp"
#include "worker/runner.hpp"

namespace uni::worker {

class ServiceBecomes {
 public:
  using Clock = std::chrono::steady_clock;
  // `fetch` asks the broker for a module (its MODULE comes to
  // module_arrived()), `reply` sends a BECOME_REPLY.
  ServiceBecomes(ModuleCache& cache, Runner& runner, std::function<void(const ModuleHash&)> fetch,
                 std::function<void(const proto::BecomeReply&)> reply)
      : cache_(cache), runner_(runner), fetch_(std::move(fetch)), reply_(std::move(reply)) {}
  ServiceBecomes(const ServiceBecomes&) = delete;
  ServiceBecomes& operator=(const ServiceBecomes&) = delete;

  // A BECOME from the manager for the service that runs here under `tag`;
  // 0 if it does not run here (any more), which is answered at once.
  void request(const proto::BecomeRequest& r, std::uint64_t tag, Clock::time_point now);
  // Answers a BECOME as failed at once, saying `why`.
  void refuse(const proto::BecomeRequest& r, std::string why);
  // A MODULE reply from the manager: requests waiting for it go on.
  void module_arrived(const proto::ModuleReply& reply, Clock::time_point now);
  // Outcomes the runner reports, and time limits. Cheap when nothing is pending.
  void poll(Clock::time_point now);
  // The service under `tag` has ended (returned, failed, stopped, its
  // executor died): what it waited for is answered, its modules unpinned.
  void service_ended(std::uint64_t tag, const std::string& why);
  // Fetches in progress (re-sent after a reconnect).
  std::vector<ModuleHash> fetching() const;

 private:
  struct Pending {
    proto::BecomeRequest request;
    std::uint64_t tag = 0;
    bool fetching = false;       // waits for its module
    bool asked = false;          // handed to the runner
    bool accepted_late = false;  // past its limit, but the service had already handed over
    bool pinned = false;         // holds a reference on its module in the cache
    Clock::time_point deadline{};
  };
  void ask(Pending& p, Clock::time_point now);
  void answer(std::uint64_t request, bool ok, std::string text, std::uint64_t handover_ns);

  ModuleCache& cache_;
  Runner& runner_;
  std::function<void(const ModuleHash&)> fetch_;
  std::function<void(const proto::BecomeReply&)> reply_;
  std::unordered_map<std::uint64_t, Pending> pending_;  // by request
  // Per service tag: the modules it became, pinned until it ends.
  std::unordered_map<std::uint64_t, std::vector<ModuleHash>> pins_;
  std::vector<BecomeOutcome> outcomes_;
};

}  // namespace uni::worker
