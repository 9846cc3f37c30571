// Become on NATS: a boss asks the worker that runs a service to turn it into
// new code with a core NATS request on that worker's own subject
// (<prefix>.become.<worker id>), a BECOME message (docs/protocol.md 7.21)
// answered by a BECOME_REPLY on the boss's inbox. Nothing is stored: a
// request to a worker that is gone gets "no responders" at once, one the
// worker never answers is given up at its deadline, and either way the boss
// is told which.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/wake_fd.hpp"
#include "nats/client/connection.hpp"
#include "nats/store/names.hpp"
#include "proto/become.hpp"

namespace uni::nats {

// The boss's end: sends `request` to worker `worker_id` and waits for its
// BECOME_REPLY until `deadline`. Every 250 ms `give_up` is asked whether to
// stop waiting; a reason it returns (the worker left, the boss closes) ends
// the wait with "not ok" and that reason. Never throws: a failure to send or
// to read the answer is a "not ok" saying so.
proto::BecomeReply ask_become(Connection& connection, const Names& names,
                              const std::string& worker_id, const proto::BecomeRequest& request,
                              std::chrono::steady_clock::time_point deadline,
                              const std::function<std::optional<std::string>()>& give_up);

// The worker's end: subscribed to its become subject while it lives. Two
// bosses may use the same request number, so each request is renumbered
// here before the supervisor sees it, and answer() puts the boss's back.
class BecomeListener {
 public:
  BecomeListener(Connection& connection, const Names& names, const std::string& worker_id);
  ~BecomeListener();  // unsubscribes; requests not answered get no reply (the boss times out)
  BecomeListener(const BecomeListener&) = delete;
  BecomeListener& operator=(const BecomeListener&) = delete;

  // Readable when take() has requests.
  int wake_fd() const { return wake_.fd(); }
  std::vector<proto::BecomeRequest> take();
  // The request under this listener's number `request`, as it came.
  std::optional<proto::BecomeRequest> find(std::uint64_t request) const;
  // Sends `reply` (which carries this listener's number) to the boss that
  // asked; false if that request is unknown or answered already.
  bool answer(proto::BecomeReply reply);

 private:
  struct Asked {
    std::string inbox;
    std::uint64_t boss_request = 0;
    proto::BecomeRequest request;  // as the boss sent it
  };
  void listen_loop();

  Connection& connection_;
  Subscription subscription_;
  WakeFd wake_;
  mutable std::mutex mutex_;
  bool stopping_ = false;
  std::uint64_t next_request_ = 1;
  std::vector<proto::BecomeRequest> arrived_;
  std::unordered_map<std::uint64_t, Asked> asked_;
  std::thread thread_;
};

}  // namespace uni::nats
