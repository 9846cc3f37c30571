// `uni status` as people read it: the report as text (workers with what
// they did, the queue, tasks/s, services, recent failures), and `--watch`,
// which redraws it in place like top until Ctrl-C.
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include "proto/status.hpp"

namespace uni::cli {

// The report as `uni status` prints it.
std::string status_text(const proto::StatusReport& status);

// Fetches and prints every `interval` until SIGINT/SIGTERM: on a terminal
// the screen is cleared and redrawn; otherwise (and with `json`, one JSON
// object a line) each report follows the last. A fetch that fails is shown
// and retried, as the client reconnects by itself. Returns the exit code (0).
int watch_status(const std::function<proto::StatusReport()>& fetch,
                 const std::function<std::string(const proto::StatusReport&)>& json, bool as_json,
                 std::chrono::milliseconds interval);

}  // namespace uni::cli
