// The echo module: the second example of the Python original. A worker that
// runs `server(port)` becomes a TCP echo server until a client says QUIT.
#include "echo.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include <uni/module.hpp>

namespace {

struct Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) {}
  Fd(Fd&& o) noexcept : fd(o.fd), pending(std::move(o.pending)) { o.fd = -1; }
  Fd& operator=(Fd&& o) noexcept {
    std::swap(fd, o.fd);
    std::swap(pending, o.pending);
    return *this;
  }
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
  std::string pending;  // bytes of an unfinished line
};

[[noreturn]] void fail(const std::string& what) {
  throw std::system_error(errno, std::generic_category(), what);
}

}  // namespace

int server(int port) {
  if (port <= 0 || port > 65535)
    throw std::invalid_argument("port out of range: " + std::to_string(port));
  Fd listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (listener.fd < 0) fail("socket");
  int one = 1;
  ::setsockopt(listener.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(listener.fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0)
    fail("cannot listen on 127.0.0.1:" + std::to_string(port));
  if (::listen(listener.fd, 16) != 0) fail("listen");
  std::printf("start serving on 127.0.0.1:%d\n", port);
  std::fflush(stdout);

  std::vector<Fd> clients;
  for (;;) {
    std::vector<pollfd> fds{{listener.fd, POLLIN, 0}};
    for (const Fd& c : clients) fds.push_back({c.fd, POLLIN, 0});
    if (::poll(fds.data(), fds.size(), -1) < 0 && errno != EINTR) fail("poll");
    if (fds[0].revents & POLLIN) {
      int fd = ::accept4(listener.fd, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd >= 0) clients.emplace_back(fd);
    }
    for (std::size_t i = fds.size() - 1; i >= 1; --i) {
      if (!fds[i].revents) continue;
      Fd& c = clients[i - 1];
      char buffer[4096];
      ssize_t n = ::recv(c.fd, buffer, sizeof(buffer), 0);
      if (n <= 0) {
        clients.erase(clients.begin() + static_cast<std::ptrdiff_t>(i - 1));
        continue;
      }
      ::send(c.fd, buffer, static_cast<std::size_t>(n), MSG_NOSIGNAL);
      c.pending.append(buffer, static_cast<std::size_t>(n));
      for (std::size_t nl; (nl = c.pending.find('\n')) != std::string::npos;
           c.pending.erase(0, nl + 1)) {
        std::string line = c.pending.substr(0, nl);
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line == "QUIT") {
          std::printf("done serving on 127.0.0.1:%d\n", port);
          std::fflush(stdout);
          return port;
        }
      }
    }
  }
}

UNI_EXPORT(server);
