// What the manager core decided to send, in the order it decided it: whole
// encoded messages, each for one peer. The core fills it and never touches a
// socket; the loop in manager.cpp sends it and hands back what could not be
// delivered (Outgoing::Kind says what undoing that means).
#pragma once

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "proto/messages.hpp"

namespace uni::manager {

using Clock = std::chrono::steady_clock;

// A connected peer as the transport names it (a ZeroMQ routing id). Opaque
// to the core: it only compares and stores them.
using PeerId = std::string;

struct Outgoing {
  enum class Kind : std::uint8_t {
    kPlain,    // lost if undelivered: the peer catches up after its next HELLO
    kTasks,    // TASKS: undelivered ones go back to the queue, no attempt charged
    kResults,  // RESULT for a boss: undelivered, the boss counts as disconnected
  };
  PeerId to;
  std::string message;
  Kind kind = Kind::kPlain;
  std::vector<proto::TaskId> tasks;  // kTasks: the ids it carries
};

class Outbox {
 public:
  void send(const PeerId& to, std::string message) {
    items_.push_back({to, std::move(message), Outgoing::Kind::kPlain, {}});
  }
  void send_tasks(const PeerId& to, std::string message, std::vector<proto::TaskId> ids) {
    items_.push_back({to, std::move(message), Outgoing::Kind::kTasks, std::move(ids)});
  }
  void send_results(const PeerId& to, std::string message) {
    items_.push_back({to, std::move(message), Outgoing::Kind::kResults, {}});
  }

  bool empty() const { return items_.empty(); }
  std::vector<Outgoing>& items() { return items_; }
  const std::vector<Outgoing>& items() const { return items_; }
  void clear() { items_.clear(); }

 private:
  std::vector<Outgoing> items_;
};

}  // namespace uni::manager
