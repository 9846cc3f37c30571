// A boss's or worker's connection to the manager: a CURVE DEALER, its monitor,
// and the opening HELLO/WELCOME exchange. Reconnection after a drop is
// libzmq's; noticing it (to say HELLO again) is this class's.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <zmq.hpp>

#include "common/keys.hpp"
#include "proto/messages.hpp"
#include "proto/transport.hpp"

namespace uni::proto {

class PeerConnection {
 public:
  PeerConnection(zmq::context_t& context, const CurveKeys& keys, std::string endpoint,
                 const std::string& routing_id);

  // Connects, completes the CURVE handshake and the HELLO/WELCOME exchange.
  // Throws ConnectFailure: unreachable, authentication failed, or the manager
  // refused (e.g. another protocol version) — never blocks past `timeout`.
  Welcome open(const std::string& hello, std::chrono::milliseconds timeout);

  zmq::socket_t& socket() { return socket_; }
  zmq::socket_t& monitor_socket() { return monitor_.socket(); }
  const std::string& endpoint() const { return endpoint_; }

  // Sends one message. Returns false when there is no live connection (the
  // caller's state is resent after the next HELLO).
  bool send(const std::string& body);

  // Reads monitor events. Returns true when a new connection has completed its
  // handshake after a drop: the caller says HELLO again.
  bool reconnected();
  bool connected() const { return up_; }

  // Whether to answer an ERROR "hello-required" with a HELLO. Every message a
  // peer sent before its HELLO reached a restarted manager earns one such
  // error; one HELLO answers them all, so a HELLO sent in the last second
  // and not yet WELCOMEd makes the rest redundant.
  bool hello_needed() const;
  void hello_sent() { hello_sent_at_ = std::chrono::steady_clock::now(); }
  void welcomed() { hello_sent_at_.reset(); }

 private:
  std::string endpoint_;
  zmq::socket_t socket_;
  SocketMonitor monitor_;
  bool up_ = false;
  std::optional<std::chrono::steady_clock::time_point> hello_sent_at_;
  std::optional<std::chrono::steady_clock::time_point> last_refusal_warning_;
};

}  // namespace uni::proto
