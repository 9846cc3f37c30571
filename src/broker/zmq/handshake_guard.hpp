// Bounds the connections the manager's socket holds before they have
// authenticated. libzmq accepts every TCP connection and gives each the
// handshake interval to complete CURVE; alone it caps neither how many are in
// that state at once nor what they cost. With frames capped at
// kMaxFrameBytes each such connection holds at most about one frame; this
// guard caps how many there are. It follows the socket's monitor on a thread
// of its own and, while more than `max_pending` handshakes are under way,
// shuts down the oldest of them (they are closest to timing out; a peer that
// holds the key completes its handshake in milliseconds). libzmq then closes
// the connection as any other; a legitimate peer reconnects. Its monitor is
// the router's only one (libzmq keeps one per socket): what else the manager
// learns of connections, it learns from counts().
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <thread>
#include <zmq.hpp>

#include "common/wake_fd.hpp"

namespace uni::proto {

class HandshakeGuard {
 public:
  // Starts monitoring `router`, before it accepts connections. `router` must
  // outlive the guard. `handshake_limit` is the socket's ZMQ_HANDSHAKE_IVL:
  // a connection older than that has authenticated or is gone.
  HandshakeGuard(zmq::context_t& context, zmq::socket_t& router, std::size_t max_pending,
                 std::chrono::milliseconds handshake_limit);
  ~HandshakeGuard();
  HandshakeGuard(const HandshakeGuard&) = delete;
  HandshakeGuard& operator=(const HandshakeGuard&) = delete;

  struct Counts {
    std::uint64_t connections = 0;    // TCP connections open now, authenticated or not
    std::uint64_t accepted = 0;       // since the start
    std::uint64_t authenticated = 0;  // handshakes that succeeded
    // Connections that did not authenticate: a wrong key, a refused key, a
    // frame too large, a handshake that timed out, and those under way.
    // libzmq reports some of these endings and not others; this counts them all.
    std::uint64_t failed = 0;
    // Handshakes libzmq reported as failed: a key refused (by CURVE or by
    // ZAP), or a peer that does not speak ZMTP with CURVE.
    std::uint64_t handshakes_refused = 0;
    std::uint64_t shed = 0;           // closed because too many handshakes were under way
    std::uint64_t accept_errors = 0;  // accept() failures, e.g. out of descriptors
  };
  Counts counts() const;

 private:
  struct Recent {
    std::chrono::steady_clock::time_point accepted;
    std::string peer;  // getpeername at accept: a reused descriptor is not mistaken for it
  };
  void watch();
  void on_events();
  void shed_if_crowded(std::chrono::steady_clock::time_point now);

  zmq::socket_t monitor_;
  const std::size_t max_pending_;
  const std::chrono::milliseconds window_;
  WakeFd stop_;  // signalled once to stop the thread
  // Connections accepted within the window and not closed: the handshakes
  // under way are among them.
  std::map<int, Recent> recent_;
  std::atomic<std::uint64_t> connections_{0}, accepted_{0}, authenticated_{0}, refused_{0},
      shed_{0}, accept_errors_{0};
  std::thread thread_;
};

}  // namespace uni::proto
