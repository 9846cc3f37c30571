// What a broker is (BrokerIdentity: known from its address, before any
// connection) and what it says about itself when a boss or worker connects
// (BrokerInfo: who it is — a change means it restarted —, how often to beat,
// its size limits). Both sides of the seam (boss_link.hpp, worker_link.hpp)
// hand them up, so that nothing above the seam tells brokers apart by their
// address or by a magic string.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace uni::broker {

// Which broker an address names, in the words messages to the user use.
struct BrokerIdentity {
  std::string kind;     // "manager", "NATS cluster"
  std::string address;  // as shown to the user (never a password): "tcp://host:7070"
  std::string name;     // "the manager at tcp://host:7070", "the NATS cluster at nats://h:4222"
  // Whether a manager process holds the cluster's state. Without one (NATS)
  // there is no uptime of it, the totals are the live workers' and bosses',
  // results are kept by the cluster's streams, and an unknown task cannot be
  // told from an unfinished one.
  bool has_manager = true;
};

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
