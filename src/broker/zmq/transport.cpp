// ZeroMQ socket options, ZAP and monitor plumbing (see transport.hpp).
#include "broker/zmq/transport.hpp"

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "proto/peer_probe.hpp"

namespace uni::proto {

namespace {

// Heartbeats at the ZMTP level catch half-open TCP connections (a peer whose
// host vanished) without waiting for the kernel's keepalive.
constexpr int kZmtpHeartbeatMs = 1000;
constexpr int kZmtpHeartbeatTimeoutMs = 5000;
// A handshake that stalls this long fails, so a wrong key never hangs a peer.
constexpr int kHandshakeMs = 3000;
// Reconnect with backoff from 100 ms to 1 s: a restarted manager sees its
// workers and bosses back within about a second.
constexpr int kReconnectMs = 100;
constexpr int kReconnectMaxMs = 1000;
// Batching keeps message counts low; the high-water marks are a backstop,
// and flow control (worker credit, boss windows) keeps queues far below them.
constexpr int kHighWaterMark = 100000;

void set_curve_keys(zmq::socket_t& s, const std::string& pub, const std::string& sec) {
  s.set(zmq::sockopt::curve_publickey, zmq::buffer(pub));
  s.set(zmq::sockopt::curve_secretkey, zmq::buffer(sec));
}

}  // namespace

void poll(zmq::pollitem_t* items, std::size_t count, std::chrono::milliseconds timeout) {
  if (zmq_poll(items, static_cast<int>(count), static_cast<long>(timeout.count())) >= 0) return;
  if (zmq_errno() != EINTR) throw zmq::error_t();
  for (std::size_t i = 0; i < count; ++i) items[i].revents = 0;
}

std::string normalize_endpoint(const std::string& address) {
  if (address.find("://") != std::string::npos) return address;
  return "tcp://" + address;
}

zmq::socket_t make_router(zmq::context_t& context, const CurveKeys& keys, const std::string& listen,
                          std::size_t max_message, std::string& bound) {
  zmq::socket_t s(context, zmq::socket_type::router);
  s.set(zmq::sockopt::curve_server, 1);
  s.set(zmq::sockopt::curve_secretkey, zmq::buffer(keys.server_secret));
  s.set(zmq::sockopt::zap_domain, "uni");
  // Fail loudly instead of dropping a message to an unknown or full peer.
  s.set(zmq::sockopt::router_mandatory, 1);
  // Routing ids are the ROUTER's own (peers set none): a fresh one for each
  // connection, so that no peer can name itself after another and be handed
  // that peer's connection. Without ROUTER_HANDOVER, a peer that does choose
  // the id of a live connection is not attached at all. Who a peer is comes
  // from its key (ZAP) and its HELLO, never from its routing id.
  s.set(zmq::sockopt::router_handover, 0);
  s.set(zmq::sockopt::sndhwm, kHighWaterMark);
  s.set(zmq::sockopt::rcvhwm, kHighWaterMark);
  s.set(zmq::sockopt::linger, 0);
  s.set(zmq::sockopt::heartbeat_ivl, kZmtpHeartbeatMs);
  s.set(zmq::sockopt::heartbeat_timeout, kZmtpHeartbeatTimeoutMs);
  s.set(zmq::sockopt::handshake_ivl, kHandshakeMs);
  // Messages up to max_message get an application-level "too large" reply;
  // this hard cap (twice that) protects memory from anything bigger by
  // dropping the connection.
  s.set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(2 * max_message));
  std::string endpoint = normalize_endpoint(listen);
  // "tcp://host:0" asks for an ephemeral port, as "tcp://host:*" does in libzmq.
  if (endpoint.size() > 2 && endpoint.ends_with(":0"))
    endpoint.replace(endpoint.size() - 1, 1, "*");
  try {
    s.bind(endpoint);
  } catch (const zmq::error_t& e) {
    throw std::runtime_error("cannot listen on " + listen + ": " + e.what());
  }
  bound = s.get(zmq::sockopt::last_endpoint);
  return s;
}

zmq::socket_t make_dealer(zmq::context_t& context, const CurveKeys& keys) {
  zmq::socket_t s(context, zmq::socket_type::dealer);
  s.set(zmq::sockopt::curve_serverkey, zmq::buffer(keys.server_public));
  set_curve_keys(s, keys.client_public, keys.client_secret);
  // Queue only on a live connection: while disconnected, sends fail with
  // EAGAIN and the peer's own state (resubmission after HELLO) takes over.
  s.set(zmq::sockopt::immediate, 1);
  s.set(zmq::sockopt::reconnect_ivl, kReconnectMs);
  s.set(zmq::sockopt::reconnect_ivl_max, kReconnectMaxMs);
  s.set(zmq::sockopt::sndhwm, kHighWaterMark);
  s.set(zmq::sockopt::rcvhwm, kHighWaterMark);
  s.set(zmq::sockopt::heartbeat_ivl, kZmtpHeartbeatMs);
  s.set(zmq::sockopt::heartbeat_timeout, kZmtpHeartbeatTimeoutMs);
  s.set(zmq::sockopt::handshake_ivl, kHandshakeMs);
  // Long enough for a closing peer's last ACK or BYE, short enough not to hang.
  s.set(zmq::sockopt::linger, 200);
  return s;
}

// ---- ZAP -------------------------------------------------------------------

ZapHandler::ZapHandler(zmq::context_t& context, ZapDecision decide)
    : socket_(context, zmq::socket_type::rep), decide_(std::move(decide)) {
  socket_.set(zmq::sockopt::linger, 0);
  socket_.bind("inproc://zeromq.zap.01");
}

void ZapHandler::handle() {
  // Request frames: version, request id, domain, address, identity,
  // mechanism, credentials (the client's public key for CURVE).
  std::vector<zmq::message_t> frames;
  for (;;) {
    zmq::message_t frame;
    if (!socket_.recv(frame, zmq::recv_flags::dontwait)) break;
    bool more = frame.more();
    frames.push_back(std::move(frame));
    if (!more) break;
  }
  if (frames.empty()) return;
  std::string version = frames.size() > 0 ? frames[0].to_string() : "";
  std::string request_id = frames.size() > 1 ? frames[1].to_string() : "";
  std::string mechanism = frames.size() > 5 ? frames[5].to_string() : "";
  std::optional<std::string> user_id;
  if (version == "1.0" && mechanism == "CURVE" && frames.size() > 6)
    user_id = decide_(frames[6].to_string());
  if (!user_id) ++refused_;
  socket_.send(zmq::buffer(std::string("1.0")), zmq::send_flags::sndmore);
  socket_.send(zmq::buffer(request_id), zmq::send_flags::sndmore);
  socket_.send(zmq::buffer(std::string(user_id ? "200" : "400")), zmq::send_flags::sndmore);
  socket_.send(zmq::buffer(std::string(user_id ? "OK" : "unknown client key")),
               zmq::send_flags::sndmore);
  // The user id travels with every message of the connection (its
  // "User-Id" property): how the manager learns which key sent a HELLO.
  socket_.send(zmq::buffer(user_id.value_or(std::string())), zmq::send_flags::sndmore);
  socket_.send(zmq::buffer(std::string()), zmq::send_flags::none);  // metadata
}

// ---- monitor ---------------------------------------------------------------

SocketMonitor::SocketMonitor(zmq::context_t& context, zmq::socket_t& socket,
                             const std::string& name)
    : pair_(context, zmq::socket_type::pair) {
  static std::atomic<unsigned> counter{0};
  std::string endpoint = "inproc://uni-monitor-" + name + "-" + std::to_string(counter++);
  if (zmq_socket_monitor(socket.handle(), endpoint.c_str(), ZMQ_EVENT_ALL) != 0)
    throw zmq::error_t();
  pair_.set(zmq::sockopt::linger, 0);
  pair_.connect(endpoint);
}

std::optional<SocketMonitor::Event> SocketMonitor::next() {
  // Each event: a frame of 6 bytes (uint16 event, uint32 value), then the address.
  zmq::message_t head;
  if (!pair_.recv(head, zmq::recv_flags::dontwait)) return std::nullopt;
  if (head.more()) {  // multipart messages arrive whole, so this does not block
    zmq::message_t address;
    (void)pair_.recv(address, zmq::recv_flags::none);
  }
  if (head.size() < 6) return Event::kOther;
  std::uint16_t id;
  std::memcpy(&id, head.data(), sizeof(id));
  switch (id) {
    case ZMQ_EVENT_CONNECTED: return Event::kConnected;
    case ZMQ_EVENT_CONNECT_RETRIED: return Event::kConnectRetried;
    case ZMQ_EVENT_HANDSHAKE_SUCCEEDED: return Event::kHandshakeOk;
    case ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL:
    case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL:
    case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH: return Event::kHandshakeFailed;
    case ZMQ_EVENT_DISCONNECTED: return Event::kDisconnected;
    default: return Event::kOther;
  }
}

// ---- handshake watch ---------------------------------------------------------

namespace {
std::string seconds_text(std::chrono::milliseconds ms) {
  char out[32];
  std::snprintf(out, sizeof(out), "%g", static_cast<double>(ms.count()) / 1000.0);
  return out;
}
}  // namespace

bool HandshakeWatch::on_event(SocketMonitor::Event event) {
  switch (event) {
    case SocketMonitor::Event::kConnected: ++tcp_connects_; break;
    case SocketMonitor::Event::kHandshakeOk: ok_ = true; break;
    case SocketMonitor::Event::kHandshakeFailed: ++failures_; break;
    case SocketMonitor::Event::kDisconnected:
      // A TCP connection that closes before any handshake succeeded is how a
      // CURVE server answers a client that encrypted to the wrong key.
      if (!ok_) ++failures_;
      ok_ = false;
      break;
    default: break;
  }
  return ok_;
}

void HandshakeWatch::check(std::chrono::milliseconds waited,
                           std::chrono::milliseconds limit) const {
  if (ok_) return;
  // Two failed handshakes over working TCP: retrying will not change the key
  // (unless what listens is no manager at all: then say what it is).
  if (tcp_connects_ > 0 && (failures_ >= 2 || waited >= limit)) {
    if (std::optional<std::string> other = not_a_manager(address_))
      throw ConnectFailure(ConnectFailure::Reason::kProtocol, *other);
    if (failures_ >= 2)
      throw ConnectFailure(
          ConnectFailure::Reason::kAuthFailed,
          "authentication failed (wrong authkey, or a key not admitted?) connecting to " +
              address_);
    throw ConnectFailure(
        ConnectFailure::Reason::kAuthFailed,
        "authentication failed (wrong authkey, or a key not admitted?): the handshake with " +
            address_ + " did not complete");
  }
  if (waited < limit) return;
  throw ConnectFailure(ConnectFailure::Reason::kUnreachable, "cannot connect to " + address_ +
                                                                 ": no manager answered within " +
                                                                 seconds_text(limit) + " s");
}

}  // namespace uni::proto
