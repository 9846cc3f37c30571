// What a broker says about itself when a boss or worker connects: who it is
// (a change means it restarted), how often to beat, and its size limits.
// Both sides of the seam (boss_link.hpp, worker_link.hpp) hand it up.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace uni::broker {

struct BrokerInfo {
  std::string id;       // random per broker start (the manager's id)
  std::string version;  // the broker's uni release
  std::chrono::milliseconds heartbeat{1000};
  // The largest message the broker accepts, and the largest module: tasks,
  // results and modules beyond them are refused with an error that says so.
  std::uint64_t max_message = 64ull << 20;
  std::uint64_t max_module = 0;
};

}  // namespace uni::broker
