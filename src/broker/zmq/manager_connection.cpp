// Opening, watching and reading a connection to the manager (see
// manager_connection.hpp).
#include "broker/zmq/manager_connection.hpp"

#include <algorithm>
#include <cstring>

#include "common/log.hpp"
#include "proto/chunks.hpp"

namespace uni::broker {

using proto::Message;
using proto::Type;

ManagerConnection::ManagerConnection(zmq::context_t& context, const CurveKeys& keys,
                                     const std::string& address, const char* role)
    : endpoint_(proto::normalize_endpoint(address)),
      role_(role),
      socket_(proto::make_dealer(context, keys)),
      monitor_(context, socket_, role) {}

proto::Welcome ManagerConnection::open(const std::string& hello,
                                       std::chrono::milliseconds timeout) {
  // Called again after an attempt nobody answered, it goes on waiting on the
  // same socket, which libzmq keeps reconnecting: a fresh socket with the
  // same routing id left the old one's connection half-open at the manager,
  // which then heard nothing from the worker it had welcomed ("no heartbeat
  // for 3 s") until that connection timed out.
  if (!connect_called_) {
    try {
      socket_.connect(endpoint_);
    } catch (const zmq::error_t& e) {
      throw ConnectFailure(ConnectFailure::Reason::kUnreachable,
                           "cannot connect to " + endpoint_ + ": " + e.what());
    }
    connect_called_ = true;
  }
  const Clock::time_point start = Clock::now();
  proto::HandshakeWatch watch(endpoint_);
  if (handshake_ok_) watch.on_event(proto::SocketMonitor::Event::kHandshakeOk);
  bool hello_sent = false;
  auto send_hello = [&] {
    hello_sent = send(hello);
    if (hello_sent) ++hellos_;
  };
  for (;;) {
    auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
    if (!watch.connected()) watch.check(waited, timeout);
    if (waited >= timeout)
      throw ConnectFailure(ConnectFailure::Reason::kUnreachable,
                           "the manager at " + endpoint_ + " did not answer HELLO");
    zmq::pollitem_t items[] = {{socket_.handle(), 0, ZMQ_POLLIN, 0},
                               {monitor_.socket().handle(), 0, ZMQ_POLLIN, 0}};
    proto::poll(items, 2, std::chrono::milliseconds(hello_sent || !watch.connected() ? 50 : 5));
    while (auto event = monitor_.next()) handshake_ok_ = watch.on_event(*event);
    if (watch.connected() && !hello_sent) send_hello();
    zmq::message_t reply;
    while (socket_.recv(reply, zmq::recv_flags::dontwait)) {
      Message m;
      try {
        m = Message::parse(static_cast<const char*>(reply.data()), reply.size());
      } catch (const proto::DecodeError& e) {
        throw ConnectFailure(
            ConnectFailure::Reason::kProtocol,
            "the peer at " + endpoint_ + " does not speak the uni protocol: " + e.what());
      }
      if (m.type() == Type::kWelcome && m.version() == proto::kVersion) {
        up_ = true;
        last_heard_ = Clock::now();
        return m.welcome();
      }
      if (m.type() == Type::kError) {
        proto::ErrorMessage error = m.error();
        if (error.code == "hello-required") {
          send_hello();
          continue;
        }
        // Refused: the key may not connect as this (its role, a session or a
        // worker id that is another's). Said as the manager says it.
        if (error.code == "refused")
          throw ConnectFailure(ConnectFailure::Reason::kProtocol, error.text);
        throw ConnectFailure(
            ConnectFailure::Reason::kProtocol,
            "the manager at " + endpoint_ + " refused the connection: " + error.text);
      }
    }
  }
}

void ManagerConnection::add_poll_items(std::vector<PollItem>& items) {
  items.push_back({socket_.handle(), -1, kPollIn, 0});
  items.push_back({monitor_.socket().handle(), -1, kPollIn, 0});
}

void ManagerConnection::process(const PollItem* ready, Peer& peer) {
  // Messages first, then the monitor: a reply that arrived before a drop is
  // taken before the drop fails whoever waits for it.
  if (ready[0].revents & kPollIn) {
    for (int i = 0; i < kReadsPerTurn; ++i) {
      zmq::message_t frame;
      if (!socket_.recv(frame, zmq::recv_flags::dontwait)) break;
      last_heard_ = Clock::now();
      receive(frame, peer);
    }
  }
  if (ready[1].revents & kPollIn) watch_monitor(peer);
}

void ManagerConnection::receive(const zmq::message_t& frame, Peer& peer) {
  try {
    Message m = Message::parse(static_cast<const char*>(frame.data()), frame.size());
    if (m.version() != proto::kVersion && m.type() != Type::kError) {
      log::error("the manager speaks protocol version {}, this {} {}", m.version(), role_,
                 proto::kVersion);
      return;
    }
    switch (m.type()) {
      case Type::kWelcome:
        hello_sent_at_.reset();
        peer.on_welcome(m.welcome());
        return;
      case Type::kHeartbeat: return;
      case Type::kError: {
        proto::ErrorMessage e = m.error();
        if (e.code == "hello-required") {
          if (hello_needed()) say_hello(peer, false);
          peer.on_unknown_to_manager();
          return;
        }
        if (e.code == "refused") {
          peer.on_refused(e.text, m.refusal());
          return;
        }
        log::error("the manager says: {}", e.text);
        return;
      }
      default: peer.on_message(m);
    }
  } catch (const proto::DecodeError& e) {
    log::error("malformed message from the manager: {}", e.what());
  }
}

void ManagerConnection::watch_monitor(Peer& peer) {
  bool again = false;
  while (auto event = monitor_.next()) {
    using Event = proto::SocketMonitor::Event;
    if (*event == Event::kConnected) connected_at_ = Clock::now();
    if (*event == Event::kHandshakeOk) {
      again = true;
      up_ = true;
    } else if (*event == Event::kDisconnected) {
      if (up_) log::debug("{}: the connection to the manager at {} dropped", role_, endpoint_);
      up_ = false;
      peer.on_dropped();
    } else if (*event == Event::kHandshakeFailed) {
      // libzmq keeps retrying; say why it does not get through, now and then.
      auto now = Clock::now();
      if (!last_refusal_warning_ || now - *last_refusal_warning_ > std::chrono::seconds(10)) {
        last_refusal_warning_ = now;
        // A refusal ends the connection at once; a stall, after most of the
        // handshake limit: the manager is busy, the key may be right.
        if (now - connected_at_ >= proto::HandshakeWatch::kStalledAfter)
          log::warn("cannot reconnect: {}; retrying", proto::stalled_handshake_text(endpoint_));
        else
          log::warn(
              "cannot reconnect to the manager at {}: authentication failed (did it restart "
              "with another authkey?); retrying",
              endpoint_);
      }
    }
  }
  if (again) say_hello(peer, true);
}

void ManagerConnection::say_hello(Peer& peer, bool reconnect) {
  if (send(peer.hello(reconnect))) ++hellos_;
  hello_sent_at_ = Clock::now();
}

bool ManagerConnection::send(std::string_view body) {
  try {
    if (body.size() <= proto::kMaxFrameBytes) {
      zmq::message_t frame(body.data(), body.size());
      return socket_.send(frame, zmq::send_flags::dontwait).has_value();
    }
    // Larger than the manager reads in one frame: CHUNKs, each a message of
    // its own, back to back (docs/protocol.md 4.1).
    for (std::size_t at = 0; at < body.size(); at += proto::kChunkPieceBytes) {
      std::size_t piece = std::min(proto::kChunkPieceBytes, body.size() - at);
      char header[9];
      std::size_t header_size = proto::write_chunk_header(header, at + piece < body.size(), piece);
      zmq::message_t frame(header_size + piece);
      std::memcpy(frame.data(), header, header_size);
      std::memcpy(static_cast<char*>(frame.data()) + header_size, body.data() + at, piece);
      if (!socket_.send(frame, zmq::send_flags::dontwait)) return false;
    }
    return true;
  } catch (const zmq::error_t&) {
    return false;
  }
}

void ManagerConnection::Peer::on_refused(const std::string& text, const proto::Refusal&) {
  log::error("{}", text);
}

BrokerInfo broker_info(const proto::Welcome& w) {
  BrokerInfo info;
  info.id = w.manager_id;
  info.version = w.version;
  info.heartbeat = std::chrono::milliseconds(w.heartbeat_ms ? w.heartbeat_ms : 1000);
  info.max_message = w.max_message;
  info.max_module = w.max_module;
  return info;
}

BrokerIdentity manager_identity(const std::string& address) {
  BrokerIdentity identity;
  identity.kind = "manager";
  identity.address = proto::normalize_endpoint(address);
  identity.name = "the manager at " + identity.address;
  identity.has_manager = true;
  return identity;
}

bool ManagerConnection::hello_needed() const {
  return !hello_sent_at_ || Clock::now() - *hello_sent_at_ > std::chrono::seconds(1);
}

}  // namespace uni::broker
