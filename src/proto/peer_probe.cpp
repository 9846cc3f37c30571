// Telling what listens at an address by its first bytes (see peer_probe.hpp):
// a ZeroMQ peer greets with 0xFF (ZMTP 3), a NATS server with "INFO {",
// and an HTTP server waits for a request.
#include "proto/peer_probe.hpp"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "common/unique_fd.hpp"

namespace uni::proto {

namespace {

constexpr int kProbeMs = 1000;

// Connected socket to HOST:PORT of "tcp://HOST:PORT" (brackets for IPv6).
UniqueFd connect_to(const std::string& endpoint) {
  if (!endpoint.starts_with("tcp://")) return {};
  std::string rest = endpoint.substr(6);
  std::size_t colon = rest.rfind(':');
  if (colon == std::string::npos) return {};
  std::string host = rest.substr(0, colon), port = rest.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (::getaddrinfo(host.c_str(), port.c_str(), &hints, &found) != 0 || !found) return {};
  UniqueFd fd(::socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  bool ok = fd && ::connect(fd.get(), found->ai_addr, found->ai_addrlen) == 0;
  ::freeaddrinfo(found);
  if (!ok) return {};
  return fd;
}

}  // namespace

std::optional<std::string> not_a_manager(const std::string& endpoint) {
  UniqueFd fd = connect_to(endpoint);
  if (!fd) return std::nullopt;
  char first[8] = {};
  std::size_t got = 0;
  pollfd p{fd.get(), POLLIN, 0};
  while (got < sizeof(first) && ::poll(&p, 1, kProbeMs) > 0) {
    ssize_t n = ::recv(fd.get(), first + got, sizeof(first) - got, 0);
    if (n <= 0) break;
    got += static_cast<std::size_t>(n);
    if (static_cast<unsigned char>(first[0]) == 0xFF) return std::nullopt;  // ZMTP: a manager
  }
  std::string host_port = endpoint.substr(6);
  if (got >= 5 && std::memcmp(first, "INFO ", 5) == 0)
    return "the server at " + endpoint +
           " is a NATS server, not a uni manager: connect with nats://" + host_port;
  // Silence proves nothing: a manager whose descriptors or I/O thread are
  // exhausted sends no greeting either, and the caller calls that busy.
  if (got == 0) return std::nullopt;
  return "the server at " + endpoint + " does not speak the uni protocol (not a uni manager)";
}

}  // namespace uni::proto
