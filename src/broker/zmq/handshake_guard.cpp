// The manager's cap on handshakes under way (see handshake_guard.hpp).
#include "broker/zmq/handshake_guard.hpp"

#include <arpa/inet.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>
#include <set>
#include <vector>

#include "broker/zmq/transport.hpp"
#include "common/log.hpp"

namespace uni::proto {

namespace {

using SteadyClock = std::chrono::steady_clock;

struct MonitorEvent {
  std::uint16_t id = 0;
  std::uint32_t value = 0;  // the descriptor, for ACCEPTED and DISCONNECTED
};

std::string peer_of(int fd) {
  sockaddr_storage address{};
  socklen_t length = sizeof(address);
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) return {};
  return std::string(reinterpret_cast<const char*>(&address), length);
}

// Until its handshake succeeds, the CURVE server (RFC 26) sends a peer its
// ZMTP greeting (64 bytes) and at most a WELCOME command (a 2-byte frame
// header and 168 bytes); READY follows only once the peer's INITIATE has
// been checked and ZAP has admitted its key. More bytes than that sent and
// acknowledged: the connection has authenticated. This reads the kernel's
// count, so it holds whatever libzmq reported or failed to report.
constexpr std::uint64_t kServerBytesBeforeReady = 64 + 2 + 168;

bool still_handshaking(int fd) {
  tcp_info info{};
  socklen_t length = sizeof(info);
  if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &length) != 0) return false;  // not TCP
  if (length < offsetof(tcp_info, tcpi_bytes_acked) + sizeof(info.tcpi_bytes_acked)) return false;
  return info.tcpi_bytes_acked <= kServerBytesBeforeReady;
}

}  // namespace

HandshakeGuard::HandshakeGuard(zmq::context_t& context, zmq::socket_t& router,
                               std::size_t max_pending, std::chrono::milliseconds handshake_limit)
    : monitor_(context, zmq::socket_type::pair),
      max_pending_(max_pending),
      window_(handshake_limit + std::chrono::seconds(1)) {
  static std::atomic<unsigned> counter{0};
  std::string endpoint = "inproc://uni-handshake-guard-" + std::to_string(counter++);
  int events = ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_ACCEPT_FAILED | ZMQ_EVENT_DISCONNECTED |
               ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
               ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH;
  if (zmq_socket_monitor(router.handle(), endpoint.c_str(), events) != 0) throw zmq::error_t();
  monitor_.set(zmq::sockopt::linger, 0);
  monitor_.connect(endpoint);
  thread_ = std::thread([this] { watch(); });
}

HandshakeGuard::~HandshakeGuard() {
  stop_.signal();
  thread_.join();
}

HandshakeGuard::Counts HandshakeGuard::counts() const {
  Counts c;
  c.connections = connections_.load(std::memory_order_relaxed);
  c.accepted = accepted_.load(std::memory_order_relaxed);
  c.authenticated = authenticated_.load(std::memory_order_relaxed);
  c.failed = c.accepted > c.authenticated ? c.accepted - c.authenticated : 0;
  c.handshakes_refused = refused_.load(std::memory_order_relaxed);
  c.shed = shed_.load(std::memory_order_relaxed);
  c.accept_errors = accept_errors_.load(std::memory_order_relaxed);
  return c;
}

void HandshakeGuard::watch() {
  zmq::pollitem_t items[] = {{monitor_.handle(), 0, ZMQ_POLLIN, 0},
                             {nullptr, stop_.fd(), ZMQ_POLLIN, 0}};
  for (;;) {
    try {
      poll(items, 2, std::chrono::milliseconds(-1));
      if (items[1].revents & ZMQ_POLLIN) return;
      if (items[0].revents & ZMQ_POLLIN) on_events();
    } catch (const std::exception& e) {
      log::limited(spdlog::level::err, "handshake-guard", "handshake guard: {}", e.what());
    }
  }
}

void HandshakeGuard::on_events() {
  // Everything the monitor has queued, in order: a descriptor accepted and
  // closed within the batch is never looked at (its number may already be a
  // newer connection's).
  std::vector<MonitorEvent> events;
  for (;;) {
    zmq::message_t head;
    if (!monitor_.recv(head, zmq::recv_flags::dontwait)) break;
    if (head.more()) {  // the endpoint: an event arrives whole
      zmq::message_t address;
      (void)monitor_.recv(address, zmq::recv_flags::none);
    }
    if (head.size() < 6) continue;
    MonitorEvent e;
    std::memcpy(&e.id, head.data(), sizeof(e.id));
    std::memcpy(&e.value, static_cast<const char*>(head.data()) + 2, sizeof(e.value));
    events.push_back(e);
  }
  std::multiset<int> closed_later;
  for (const MonitorEvent& e : events)
    if (e.id == ZMQ_EVENT_DISCONNECTED) closed_later.insert(static_cast<int>(e.value));
  const SteadyClock::time_point now = SteadyClock::now();
  bool accepted_any = false;
  for (const MonitorEvent& e : events) {
    const int fd = static_cast<int>(e.value);
    switch (e.id) {
      case ZMQ_EVENT_ACCEPTED:
        accepted_.fetch_add(1, std::memory_order_relaxed);
        connections_.fetch_add(1, std::memory_order_relaxed);
        if (closed_later.count(fd) == 0) recent_[fd] = {now, peer_of(fd)};
        accepted_any = true;
        break;
      case ZMQ_EVENT_DISCONNECTED: {
        if (connections_.load(std::memory_order_relaxed) > 0)
          connections_.fetch_sub(1, std::memory_order_relaxed);
        recent_.erase(fd);
        auto it = closed_later.find(fd);
        if (it != closed_later.end()) closed_later.erase(it);
        break;
      }
      case ZMQ_EVENT_ACCEPT_FAILED:
        accept_errors_.fetch_add(1, std::memory_order_relaxed);
        log::limited(spdlog::level::warn, "accept-failed", "cannot accept a connection: {}",
                     std::strerror(static_cast<int>(e.value)));
        break;
      case ZMQ_EVENT_HANDSHAKE_SUCCEEDED:
        authenticated_.fetch_add(1, std::memory_order_relaxed);
        break;
      case ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL:
      case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL:
      case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH: refused_.fetch_add(1, std::memory_order_relaxed); break;
      default: break;
    }
  }
  if (accepted_any && recent_.size() > max_pending_) shed_if_crowded(now);
}

void HandshakeGuard::shed_if_crowded(SteadyClock::time_point now) {
  // Connections past the window have authenticated or been dropped by
  // libzmq's own handshake limit: only younger ones can still be pending.
  for (auto it = recent_.begin(); it != recent_.end();) {
    if (now - it->second.accepted > window_) it = recent_.erase(it);
    else ++it;
  }
  if (recent_.size() <= max_pending_) return;
  std::vector<std::pair<SteadyClock::time_point, int>> pending;
  for (auto it = recent_.begin(); it != recent_.end();) {
    if (still_handshaking(it->first)) {
      pending.emplace_back(it->second.accepted, it->first);
      ++it;
    } else {
      it = recent_.erase(it);  // authenticated: never a candidate again
    }
  }
  if (pending.size() <= max_pending_) return;
  std::sort(pending.begin(), pending.end());
  std::size_t excess = pending.size() - max_pending_;
  for (std::size_t i = 0; i < excess; ++i) {
    int fd = pending[i].second;
    auto it = recent_.find(fd);
    // The same connection as at accept time, not a newer one on a reused number.
    if (it != recent_.end() && peer_of(fd) == it->second.peer) {
      // The descriptor stays libzmq's: only the TCP connection ends, and
      // libzmq closes it as any other that fails its handshake.
      ::shutdown(fd, SHUT_RDWR);
      shed_.fetch_add(1, std::memory_order_relaxed);
    }
    recent_.erase(fd);
  }
  log::limited(spdlog::level::warn, "handshakes-shed",
               "{} connections were completing their handshake at once, more than {}: closed "
               "the {} oldest ({} closed so far)",
               pending.size(), max_pending_, excess, shed_.load(std::memory_order_relaxed));
}

}  // namespace uni::proto
