// A boss's or worker's ZeroMQ connection to the built-in manager: a CURVE
// DEALER, its monitor, the opening HELLO/WELCOME exchange, and receiving —
// every frame parsed and its protocol version checked, "hello-required"
// answered, a reconnect noticed and answered with HELLO — once, here, for
// both ZmqBossLink and ZmqWorkerLink. Reconnecting after a drop is libzmq's.
#pragma once

#include <zmq.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>
#include <zmq.hpp>

#include "broker/broker_info.hpp"
#include "broker/poll.hpp"
#include "broker/zmq/transport.hpp"
#include "common/keys.hpp"
#include "proto/messages.hpp"

namespace uni::broker {

class ManagerConnection {
 public:
  using Clock = std::chrono::steady_clock;

  // The link above: what it says and what it hears.
  class Peer {
   public:
    virtual ~Peer() = default;
    // The HELLO to send again: after a reconnect (`reconnect`), or when the
    // manager did not know this peer.
    virtual std::string hello(bool reconnect) = 0;
    virtual void on_welcome(const proto::Welcome& welcome) = 0;
    // Any message that is not the connection's own (WELCOME, HEARTBEAT, ERROR).
    virtual void on_message(const proto::Message& m) = 0;
    // The connection dropped: what was in flight on it is lost.
    virtual void on_dropped() {}
    // The manager did not know this peer (it restarted): whatever was sent
    // before the latest HELLO (see hellos()) was dropped unanswered.
    virtual void on_unknown_to_manager() {}
    // ERROR "refused": the manager would not do what `what` names, for the
    // reason `text` gives (the key's role, or another's task).
    virtual void on_refused(const std::string& text, const proto::Refusal& what);
  };

  // `role` names this side in log lines ("boss", "worker").
  ManagerConnection(zmq::context_t& context, const CurveKeys& keys, const std::string& address,
                    const char* role);

  // Connects, completes the CURVE handshake and the HELLO/WELCOME exchange.
  // Throws broker::ConnectFailure: unreachable, authentication failed, or the
  // manager refused (e.g. another protocol version) — never blocks past
  // `timeout`. After an unreachable failure it may be called again: it goes
  // on with the same socket.
  proto::Welcome open(const std::string& hello, std::chrono::milliseconds timeout);

  // Two items: the socket and its monitor.
  void add_poll_items(std::vector<PollItem>& items);
  // Reads up to kReadsPerTurn messages, then the monitor's events, and tells
  // `peer` what concerns it.
  void process(const PollItem* ready, Peer& peer);
  static constexpr int kReadsPerTurn = 1024;

  // Sends one message, in CHUNKs if it is larger than a frame. False when
  // there is no live connection (the peer's state is sent again after the
  // next HELLO).
  bool send(std::string_view body);

  bool connected() const { return up_; }
  // HELLOs sent so far, the one of open() included.
  std::uint64_t hellos() const { return hellos_; }
  Clock::time_point last_heard() const { return last_heard_; }
  const std::string& endpoint() const { return endpoint_; }

 private:
  void receive(const zmq::message_t& frame, Peer& peer);
  void watch_monitor(Peer& peer);
  void say_hello(Peer& peer, bool reconnect);
  // Whether to answer an ERROR "hello-required" with a HELLO. Every message a
  // peer sent before its HELLO reached a restarted manager earns one such
  // error; one HELLO answers them all, so a HELLO sent in the last second
  // and not yet WELCOMEd makes the rest redundant.
  bool hello_needed() const;

  std::string endpoint_;
  const char* role_;
  zmq::socket_t socket_;
  proto::SocketMonitor monitor_;
  bool up_ = false;
  bool connect_called_ = false;  // open() connected the socket already
  bool handshake_ok_ = false;    // as open() last saw the monitor's events
  std::uint64_t hellos_ = 0;
  Clock::time_point last_heard_ = Clock::now();
  std::optional<Clock::time_point> hello_sent_at_;
  std::optional<Clock::time_point> last_refusal_warning_;
  Clock::time_point connected_at_{};  // the last TCP connection's start
};

// What a WELCOME says, as both sides of the seam see it.
BrokerInfo broker_info(const proto::Welcome& welcome);

// The manager at `address` ("host:port" or "tcp://host:port"), as both
// links and the composition root (app/links.hpp) name it.
BrokerIdentity manager_identity(const std::string& address);

}  // namespace uni::broker
