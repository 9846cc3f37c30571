// ZeroMQ socket setup for every uni connection: CURVE on both ends, the ZAP
// handler that admits known client keys, and the socket monitor that turns
// libzmq's silent handshake failures into "authentication failed".
// Options and their reasons are in transport.cpp, next to where they are set.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <zmq.hpp>

#include "broker/connect_failure.hpp"
#include "common/keys.hpp"
#include "common/wake_fd.hpp"

namespace uni::proto {

// zmq_poll that treats a signal's interruption as "nothing ready": every poll
// loop checks its stop flag right after. Revents are cleared in that case.
void poll(zmq::pollitem_t* items, std::size_t count, std::chrono::milliseconds timeout);

// Normalises "host:port" to "tcp://host:port"; other strings pass unchanged.
std::string normalize_endpoint(const std::string& address);

// A connection that has not completed its CURVE handshake within this is
// closed, on both sides (ZMQ_HANDSHAKE_IVL).
inline constexpr std::chrono::milliseconds kHandshakeLimit{3000};

// The manager's ROUTER: CURVE server, bound to `listen`. The actual endpoint
// (port filled in when `listen` asks for an ephemeral one) is written to
// `bound`. It reads frames of at most kMaxFrameBytes (proto/chunks.hpp),
// before authentication and after: a larger one drops the connection.
// Throws zmq::error_t / std::runtime_error with the address.
zmq::socket_t make_router(zmq::context_t& context, const CurveKeys& keys, const std::string& listen,
                          std::string& bound);

// A boss's or worker's DEALER, CURVE client, not yet connected. It sets no
// routing id: the manager's ROUTER gives each connection its own.
zmq::socket_t make_dealer(zmq::context_t& context, const CurveKeys& keys);

// One ZAP request (RFC 27): who is asking to be admitted.
struct ZapRequest {
  std::string domain;      // the socket's ZAP domain: "uni"
  std::string address;     // the peer's IP address
  std::string mechanism;   // "CURVE"
  std::string client_key;  // CURVE: the client's 32-byte public key
};

// What the handler answers. libzmq attaches `user_id` to every message the
// admitted connection delivers (their "User-Id" property): how the manager
// learns which key sent a HELLO. `reason` is the status text of a refusal.
struct ZapVerdict {
  bool admitted = false;
  std::string user_id;
  std::string reason = "unknown client key";
};

// Decides one request: the manager's is its client directory
// (manager/client_directory.hpp), the keys of --clients with their roles or
// the shared authkey's. Called on the ZAP handler's thread, never on the
// manager's loop: it must be safe to call from there and must not block.
using ZapPolicy = std::function<ZapVerdict(const ZapRequest&)>;

// Answers ZAP requests for the manager's socket on a thread of its own, so
// that a handshake never waits for a busy manager loop (a peer whose
// handshake is not answered within the handshake interval is dropped, and
// would take that for a refusal). Must exist before the ROUTER accepts
// connections; stops and joins its thread when destroyed.
class ZapHandler {
 public:
  ZapHandler(zmq::context_t& context, ZapPolicy policy);
  ~ZapHandler();
  ZapHandler(const ZapHandler&) = delete;
  ZapHandler& operator=(const ZapHandler&) = delete;

  std::uint64_t admitted() const { return admitted_.load(std::memory_order_relaxed); }
  std::uint64_t refused() const { return refused_.load(std::memory_order_relaxed); }

 private:
  void serve();
  void answer_one();

  zmq::socket_t socket_;
  ZapPolicy policy_;
  WakeFd stop_;  // signalled once to stop the thread
  std::atomic<std::uint64_t> admitted_{0}, refused_{0};
  std::thread thread_;
};

// Connection events of one socket, read from libzmq's monitor.
class SocketMonitor {
 public:
  enum class Event {
    kConnected,       // TCP up, handshake starting
    kConnectRetried,  // TCP connect failed, libzmq will retry
    kHandshakeOk,
    kHandshakeFailed,  // CURVE or ZAP refused, or the peer hung up mid-handshake
    kDisconnected,
    kOther,
  };
  SocketMonitor(zmq::context_t& context, zmq::socket_t& socket, const std::string& name);
  zmq::socket_t& socket() { return pair_; }
  std::optional<Event> next();  // non-blocking

 private:
  zmq::socket_t pair_;
};

// What HandshakeWatch throws: the seam's connect error (broker/connect_failure.hpp).
using broker::ConnectFailure;

// Tracks the events of a connecting socket and says when to give up: after
// repeated handshake failures over a working TCP connection (a wrong authkey:
// libzmq itself would retry forever), or when nothing answered in time. It
// tells a key that was refused from a manager too busy to finish the
// handshake: a refused key ends the connection within milliseconds of its
// start (the CURVE server cannot open the client's HELLO, or ZAP says no),
// while a handshake that dies after most of kHandshakeLimit stalled.
class HandshakeWatch {
 public:
  using Clock = std::chrono::steady_clock;
  // A failure this long after the TCP connection came up is a stall, not a refusal.
  static constexpr std::chrono::milliseconds kStalledAfter = kHandshakeLimit / 2;

  explicit HandshakeWatch(std::string address) : address_(std::move(address)) {}
  // Feeds one event that happened at `now`; returns true once the handshake
  // succeeded.
  bool on_event(SocketMonitor::Event event, Clock::time_point now = Clock::now());
  // Throws ConnectFailure if the connection is hopeless. `waited` is the time
  // since the attempt began, `limit` the caller's patience.
  void check(std::chrono::milliseconds waited, std::chrono::milliseconds limit) const;
  bool connected() const { return ok_; }
  // Whether the last failure was a stall (the manager busy), not a refusal.
  bool last_failure_stalled() const { return last_stalled_; }
  void reset() { *this = HandshakeWatch(address_); }

 private:
  std::string address_;
  bool ok_ = false;
  int tcp_connects_ = 0;
  int failures_ = 0;           // refusals: quick failures, counted per event
  int stalls_ = 0;             // connections whose handshake stalled
  bool last_stalled_ = false;  // of the connection since the last kConnected
  Clock::time_point connected_at_{};
};

// "the manager at ADDR accepted the connection but did not complete the
// handshake in N s (busy or overloaded)", the words both sides use.
std::string stalled_handshake_text(const std::string& address);

}  // namespace uni::proto
