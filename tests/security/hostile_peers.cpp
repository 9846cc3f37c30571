// The security tests' attackers (see hostile_peers.hpp).
#include "hostile_peers.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <stdexcept>

namespace uni::test {

using namespace std::chrono_literals;

int port_of(const std::string& endpoint) {
  return std::stoi(endpoint.substr(endpoint.rfind(':') + 1));
}

RawTcp::RawTcp(int port) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) throw std::runtime_error("socket failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd_);
    fd_ = -1;
    throw std::runtime_error("cannot connect to 127.0.0.1:" + std::to_string(port));
  }
  timeval timeout{1, 0};
  ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
}

RawTcp::RawTcp(RawTcp&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
RawTcp& RawTcp::operator=(RawTcp&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}
RawTcp::~RawTcp() {
  if (fd_ >= 0) ::close(fd_);
}

bool RawTcp::write(std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

bool RawTcp::closed_by_peer(std::chrono::milliseconds wait) {
  auto deadline = std::chrono::steady_clock::now() + wait;
  for (;;) {
    pollfd p{fd_, POLLIN, 0};
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (::poll(&p, 1, static_cast<int>(std::max<long long>(left.count(), 0))) <= 0) return false;
    char buffer[4096];
    ssize_t n = ::recv(fd_, buffer, sizeof(buffer), MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) return true;
  }
}

std::string RawTcp::read_all(std::chrono::milliseconds timeout) {
  std::string out;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return out;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return out;
    char buffer[4096];
    ssize_t n = ::recv(fd_, buffer, sizeof(buffer), 0);
    if (n <= 0) return out;
    out.append(buffer, static_cast<std::size_t>(n));
  }
}

std::string zmtp_greeting() {
  std::string g(64, '\0');
  g[0] = static_cast<char>(0xff);  // signature: 0xff, 8 bytes, 0x7f
  g[9] = 0x7f;
  g[10] = 3;  // version 3.0
  g[11] = 0;
  std::memcpy(&g[12], "CURVE", 5);  // mechanism, 20 bytes NUL-padded
  g[32] = 0;                        // as-server: no
  return g;
}

std::string zmtp_command_header(std::uint64_t size) {
  std::string h(9, '\0');
  h[0] = 0x06;  // a command frame, long size
  for (int i = 0; i < 8; ++i) h[1 + i] = static_cast<char>(size >> (56 - 8 * i));
  return h;
}

namespace {
std::uint64_t status_kb(pid_t pid, const std::string& key) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(key + ":", 0) == 0) return std::stoull(line.substr(key.size() + 1)) * 1024;
  return 0;
}
}  // namespace

std::uint64_t peak_rss(pid_t pid) { return status_kb(pid, "VmHWM"); }
std::uint64_t current_rss(pid_t pid) { return status_kb(pid, "VmRSS"); }

}  // namespace uni::test
