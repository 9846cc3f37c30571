// ZeroMQ socket options, ZAP and monitor plumbing (see transport.hpp).
#include "broker/zmq/transport.hpp"

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "common/log.hpp"
#include "proto/chunks.hpp"
#include "proto/peer_probe.hpp"

namespace uni::proto {

namespace {

// Heartbeats at the ZMTP level catch half-open TCP connections (a peer whose
// host vanished) without waiting for the kernel's keepalive.
constexpr int kZmtpHeartbeatMs = 1000;
constexpr int kZmtpHeartbeatTimeoutMs = 5000;
// A handshake that stalls this long fails, so a wrong key never hangs a peer
// and a silent connection costs the manager no longer than this.
constexpr int kHandshakeMs = static_cast<int>(kHandshakeLimit.count());
// Reconnect with backoff from 100 ms to 1 s: a restarted manager sees its
// workers and bosses back within about a second.
constexpr int kReconnectMs = 100;
constexpr int kReconnectMaxMs = 1000;
// Batching keeps message counts low; the high-water marks are a backstop,
// and flow control (worker credit, boss windows) keeps queues far below them.
constexpr int kHighWaterMark = 100000;
// What libzmq queues from one peer for the manager is counted in messages,
// not bytes: with frames of at most kMaxFrameBytes this bounds it at 64 MiB
// per connection, and the manager's loop drains it long before.
constexpr int kManagerReceiveHighWaterMark = 1000;

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
                          std::string& bound) {
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
  s.set(zmq::sockopt::rcvhwm, kManagerReceiveHighWaterMark);
  s.set(zmq::sockopt::linger, 0);
  s.set(zmq::sockopt::heartbeat_ivl, kZmtpHeartbeatMs);
  s.set(zmq::sockopt::heartbeat_timeout, kZmtpHeartbeatTimeoutMs);
  s.set(zmq::sockopt::handshake_ivl, kHandshakeMs);
  // libzmq reads a whole frame into memory before anyone looks at it, also a
  // handshake command from a peer that has not authenticated: frames are
  // small, so that such a peer costs kilobytes. Larger messages come in
  // CHUNKs, which the manager puts together within --max-message.
  s.set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(kMaxFrameBytes + kFrameSlackBytes));
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

ZapHandler::ZapHandler(zmq::context_t& context, ZapPolicy policy)
    : socket_(context, zmq::socket_type::rep), policy_(std::move(policy)) {
  socket_.set(zmq::sockopt::linger, 0);
  socket_.bind("inproc://zeromq.zap.01");
  // The socket is the thread's from here on.
  thread_ = std::thread([this] { serve(); });
}

ZapHandler::~ZapHandler() {
  stop_.signal();
  thread_.join();
}

void ZapHandler::serve() {
  zmq::pollitem_t items[] = {{socket_.handle(), 0, ZMQ_POLLIN, 0},
                             {nullptr, stop_.fd(), ZMQ_POLLIN, 0}};
  for (;;) {
    try {
      poll(items, 2, std::chrono::milliseconds(-1));
      if (items[1].revents & ZMQ_POLLIN) return;
      if (items[0].revents & ZMQ_POLLIN)
        while (socket_.get(zmq::sockopt::events) & ZMQ_POLLIN) answer_one();
    } catch (const std::exception& e) {
      // A handshake left unanswered times out; the handler serves on.
      log::error("ZAP handler: {}", e.what());
    }
  }
}

void ZapHandler::answer_one() {
  // Request frames: version, request id, domain, address, identity,
  // mechanism, credentials (the client's public key for CURVE).
  std::vector<zmq::message_t> frames;
  for (;;) {
    zmq::message_t frame;
    if (!socket_.recv(frame, zmq::recv_flags::dontwait)) break;
    bool more = frame.more();
    if (frames.size() < 8) frames.push_back(std::move(frame));
    if (!more) break;
  }
  if (frames.empty()) return;
  auto text = [&](std::size_t i) { return i < frames.size() ? frames[i].to_string() : ""; };
  ZapRequest request{text(2), text(3), text(5), text(6)};
  ZapVerdict verdict;
  if (text(0) == "1.0") verdict = policy_(request);
  else verdict.reason = "unsupported ZAP version";
  if (verdict.admitted) admitted_.fetch_add(1, std::memory_order_relaxed);
  else refused_.fetch_add(1, std::memory_order_relaxed);
  socket_.send(zmq::buffer(std::string("1.0")), zmq::send_flags::sndmore);
  socket_.send(zmq::buffer(text(1)), zmq::send_flags::sndmore);
  socket_.send(zmq::buffer(std::string(verdict.admitted ? "200" : "400")),
               zmq::send_flags::sndmore);
  socket_.send(zmq::buffer(verdict.admitted ? std::string("OK") : verdict.reason),
               zmq::send_flags::sndmore);
  socket_.send(zmq::buffer(verdict.user_id), zmq::send_flags::sndmore);
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

std::string stalled_handshake_text(const std::string& address) {
  return "the manager at " + address +
         " accepted the connection but did not complete the handshake in " +
         seconds_text(kHandshakeLimit) + " s (busy or overloaded)";
}

bool HandshakeWatch::on_event(SocketMonitor::Event event, Clock::time_point now) {
  auto failed = [&] {
    // One stalled connection reports its end twice (a failure, then the
    // disconnection): it counts once. Refusals count per event, so that one
    // wrong-key connection is enough to say so.
    bool stalled = tcp_connects_ > 0 && now - connected_at_ >= kStalledAfter;
    if (stalled && !last_stalled_) ++stalls_;
    if (!stalled) ++failures_;
    last_stalled_ = stalled;
  };
  switch (event) {
    case SocketMonitor::Event::kConnected:
      ++tcp_connects_;
      connected_at_ = now;
      last_stalled_ = false;
      break;
    case SocketMonitor::Event::kHandshakeOk: ok_ = true; break;
    case SocketMonitor::Event::kHandshakeFailed: failed(); break;
    case SocketMonitor::Event::kDisconnected:
      // A TCP connection that closes before any handshake succeeded is how a
      // CURVE server answers a client that encrypted to the wrong key.
      if (!ok_) failed();
      ok_ = false;
      break;
    default: break;
  }
  return ok_;
}

void HandshakeWatch::check(std::chrono::milliseconds waited,
                           std::chrono::milliseconds limit) const {
  if (ok_) return;
  // Two refused handshakes over working TCP: retrying will not change the
  // key. At the caller's limit, a handshake that failed quickly was refused
  // too, while one that stalled met a manager too busy to finish it.
  const bool refused_twice = tcp_connects_ > 0 && failures_ >= 2;
  if (!refused_twice && waited < limit) return;
  if (tcp_connects_ > 0) {
    // Unless what listens is no manager at all: then say what it is.
    if (std::optional<std::string> other = not_a_manager(address_))
      throw ConnectFailure(ConnectFailure::Reason::kProtocol, *other);
    if (refused_twice)
      throw ConnectFailure(
          ConnectFailure::Reason::kAuthFailed,
          "authentication failed (wrong authkey, or a key not admitted?) connecting to " +
              address_);
    if (failures_ > 0 && stalls_ == 0)
      throw ConnectFailure(
          ConnectFailure::Reason::kAuthFailed,
          "authentication failed (wrong authkey, or a key not admitted?): the handshake with " +
              address_ + " did not complete");
    throw ConnectFailure(
        ConnectFailure::Reason::kUnreachable,
        stalled_handshake_text(address_) + "; gave up after " + seconds_text(limit) + " s");
  }
  throw ConnectFailure(ConnectFailure::Reason::kUnreachable, "cannot connect to " + address_ +
                                                                 ": no manager answered within " +
                                                                 seconds_text(limit) + " s");
}

}  // namespace uni::proto
