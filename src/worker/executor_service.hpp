// The executor's side of `become`: running a service whose function takes a
// uni::ServiceContext, so that, asked by the supervisor, it hands its state
// and descriptors over and new code takes them, in this same process; and
// resuming the old code with them when the new cannot take over.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "worker/module_loader.hpp"
#include "worker/status_page.hpp"

namespace uni::worker {

// A become request as the supervisor sends it (BECOME, channel.hpp).
struct BecomeOrder {
  std::uint64_t id = 0;
  std::string module_path;
  std::string function;
};

// What came of it (BECAME).
struct BecomeReport {
  std::uint64_t id = 0;
  bool ok = false;
  std::string text;  // ok: what runs now; otherwise why the old version resumed
  // From the old version's hand_over() to the new version's take_over().
  std::chrono::nanoseconds handover{0};
};

// What a service run needs from the executor around it.
struct ServiceHost {
  StatusPage* page = nullptr;
  int handover_fd = -1;  // an eventfd the supervisor writes to request a hand-over
  // Reads the channel until the BECOME with this id, keeping what comes
  // before it for later; nullopt if the channel is gone.
  std::function<std::optional<BecomeOrder>(std::uint64_t id)> next_order;
  // Sends a report at once (the service it concerns runs on, and blocks).
  std::function<void(const BecomeReport&)> report;
  // The module at `path`, loaded once per executor; null with `error` set.
  std::function<const LoadedModule*(const std::string& path, std::string& error)> load;
};

// Runs `function` of `module` (its service invoker is `service`) with `args`
// as the service of task `tag`, through every become it goes through, until
// the version running returns or fails: that is the outcome. Never throws.
Outcome run_service(ServiceHost& host, std::uint64_t tag, const LoadedModule& module,
                    const std::string& function, uni_service_invoke_fn service,
                    std::string_view args);

}  // namespace uni::worker
