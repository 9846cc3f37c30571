// Opening and watching a connection to the manager (see peer_connection.hpp).
#include "proto/peer_connection.hpp"

#include <thread>

#include "common/log.hpp"

namespace uni::proto {

using Clock = std::chrono::steady_clock;

PeerConnection::PeerConnection(zmq::context_t& context, const CurveKeys& keys, std::string endpoint,
                               const std::string& routing_id)
    : endpoint_(normalize_endpoint(endpoint)),
      socket_(make_dealer(context, keys, routing_id)),
      monitor_(context, socket_, "peer") {}

Welcome PeerConnection::open(const std::string& hello, std::chrono::milliseconds timeout) {
  try {
    socket_.connect(endpoint_);
  } catch (const zmq::error_t& e) {
    throw ConnectFailure(ConnectFailure::Reason::kUnreachable,
                         "cannot connect to " + endpoint_ + ": " + e.what());
  }
  const Clock::time_point start = Clock::now();
  HandshakeWatch watch(endpoint_);
  bool hello_sent = false;
  for (;;) {
    auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
    if (!watch.connected()) watch.check(waited, timeout);
    if (waited >= timeout)
      throw ConnectFailure(ConnectFailure::Reason::kUnreachable,
                           "the manager at " + endpoint_ + " did not answer HELLO");
    zmq::pollitem_t items[] = {{socket_.handle(), 0, ZMQ_POLLIN, 0},
                               {monitor_.socket().handle(), 0, ZMQ_POLLIN, 0}};
    poll(items, 2, std::chrono::milliseconds(hello_sent || !watch.connected() ? 50 : 5));
    while (auto event = monitor_.next()) watch.on_event(*event);
    if (watch.connected() && !hello_sent) hello_sent = send(hello);
    zmq::message_t reply;
    while (socket_.recv(reply, zmq::recv_flags::dontwait)) {
      Message m;
      try {
        m = Message::parse(static_cast<const char*>(reply.data()), reply.size());
      } catch (const DecodeError& e) {
        throw ConnectFailure(
            ConnectFailure::Reason::kProtocol,
            "the peer at " + endpoint_ + " does not speak the uni protocol: " + e.what());
      }
      if (m.type() == Type::kWelcome && m.version() == kVersion) {
        up_ = true;
        return m.welcome();
      }
      if (m.type() == Type::kError) {
        ErrorMessage error = m.error();
        if (error.code == "hello-required") {
          hello_sent = send(hello);
          continue;
        }
        throw ConnectFailure(
            ConnectFailure::Reason::kProtocol,
            "the manager at " + endpoint_ + " refused the connection: " + error.text);
      }
    }
  }
}

bool PeerConnection::send(const std::string& body) {
  try {
    zmq::message_t frame(body.data(), body.size());
    return socket_.send(frame, zmq::send_flags::dontwait).has_value();
  } catch (const zmq::error_t&) {
    return false;
  }
}

bool PeerConnection::reconnected() {
  bool again = false;
  while (auto event = monitor_.next()) {
    if (*event == SocketMonitor::Event::kHandshakeOk) {
      again = true;
      up_ = true;
    } else if (*event == SocketMonitor::Event::kDisconnected) {
      up_ = false;
    } else if (*event == SocketMonitor::Event::kHandshakeFailed) {
      // libzmq keeps retrying; say why it does not get through, now and then.
      auto now = std::chrono::steady_clock::now();
      if (!last_refusal_warning_ || now - *last_refusal_warning_ > std::chrono::seconds(10)) {
        last_refusal_warning_ = now;
        log::warn(
            "cannot reconnect to the manager at {}: authentication failed (did it restart "
            "with another authkey?); retrying",
            endpoint_);
      }
    }
  }
  return again;
}

bool PeerConnection::hello_needed() const {
  return !hello_sent_at_ ||
         std::chrono::steady_clock::now() - *hello_sent_at_ > std::chrono::seconds(1);
}

}  // namespace uni::proto
