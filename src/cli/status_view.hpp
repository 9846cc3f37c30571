// `uni status` as people read it: the report as text (workers with what
// they did, the queue, tasks/s, services, recent failures), and `--watch`,
// which redraws it in place like top until Ctrl-C.
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include "uni/uni.hpp"

namespace uni::cli {

// The status as `uni status` prints it.
std::string status_text(const ClusterStatus& status);

// Fetches and prints every `interval` until SIGINT/SIGTERM: on a terminal
// the screen is cleared and redrawn; otherwise (and with `as_json`, one JSON
// object a line) each report follows the last. A fetch that fails is shown
// and retried, as the client reconnects by itself. Returns the exit code (0).
int watch_status(const std::function<ClusterStatus()>& fetch, bool as_json,
                 std::chrono::milliseconds interval);

}  // namespace uni::cli
