// ZeroMQ socket setup for every uni connection: CURVE on both ends, the ZAP
// handler that admits known client keys, and the socket monitor that turns
// libzmq's silent handshake failures into "authentication failed".
// Options and their reasons are in transport.cpp, next to where they are set.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <zmq.hpp>

#include "broker/connect_failure.hpp"
#include "common/keys.hpp"

namespace uni::proto {

// zmq_poll that treats a signal's interruption as "nothing ready": every poll
// loop checks its stop flag right after. Revents are cleared in that case.
void poll(zmq::pollitem_t* items, std::size_t count, std::chrono::milliseconds timeout);

// Normalises "host:port" to "tcp://host:port"; other strings pass unchanged.
std::string normalize_endpoint(const std::string& address);

// The manager's ROUTER: CURVE server, bound to `listen`. The actual endpoint
// (port filled in when `listen` asks for an ephemeral one) is written to
// `bound`. Throws zmq::error_t / std::runtime_error with the address.
zmq::socket_t make_router(zmq::context_t& context, const CurveKeys& keys, const std::string& listen,
                          std::size_t max_message, std::string& bound);

// A boss's or worker's DEALER, CURVE client, not yet connected. It sets no
// routing id: the manager's ROUTER gives each connection its own.
zmq::socket_t make_dealer(zmq::context_t& context, const CurveKeys& keys);

// Whether a CURVE client key (32 raw bytes) is admitted, and if so the user
// id its connection's messages carry (their "User-Id" property). Must be
// safe to call from the thread that serves ZAP.
using ZapDecision = std::function<std::optional<std::string>(const std::string& public_key)>;

// Answers ZAP requests (RFC 27) for the manager's socket with `decide`.
// Must exist before the ROUTER accepts connections; handle() is called from
// the manager's poll loop when socket() is readable.
class ZapHandler {
 public:
  ZapHandler(zmq::context_t& context, ZapDecision decide);
  zmq::socket_t& socket() { return socket_; }
  void handle();
  std::uint64_t refused() const { return refused_; }

 private:
  zmq::socket_t socket_;
  ZapDecision decide_;
  std::uint64_t refused_ = 0;
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
// libzmq itself would retry forever), or when nothing answered in time.
class HandshakeWatch {
 public:
  explicit HandshakeWatch(std::string address) : address_(std::move(address)) {}
  // Feeds one event; returns true once the handshake succeeded.
  bool on_event(SocketMonitor::Event event);
  // Throws ConnectFailure if the connection is hopeless. `waited` is the time
  // since the attempt began, `limit` the caller's patience.
  void check(std::chrono::milliseconds waited, std::chrono::milliseconds limit) const;
  bool connected() const { return ok_; }
  void reset() { *this = HandshakeWatch(address_); }

 private:
  std::string address_;
  bool ok_ = false;
  int tcp_connects_ = 0;
  int failures_ = 0;
};

}  // namespace uni::proto
