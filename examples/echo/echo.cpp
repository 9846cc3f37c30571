// The echo module: the second example of the Python original. A worker that
// runs `server(port)` becomes a TCP echo server until a client says QUIT.
// Built twice (examples/echo/CMakeLists.txt): version 1 (libecho.so) echoes
// each line; version 2 (libecho_v2.so) answers `<n> <LINE IN UPPER CASE>`,
// n counting every line the service has answered since it was first
// spawned. Either can `uni become` the other while clients stay connected:
// the listening socket, the connections, the count and the unfinished lines
// are handed over (uni/service.hpp).
#include "echo.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include <uni/module.hpp>

#ifndef ECHO_VERSION
#define ECHO_VERSION 1
#endif

namespace {

// What one version hands to the next. Both versions use this type; a
// version with another state type could not take over (the become fails and
// the old version resumes).
struct EchoState {
  std::uint64_t lines = 0;           // lines answered since the first spawn
  int port = 0;                      // where the listener listens
  std::vector<std::string> pending;  // per client, in fds order: an unfinished line
  MSGPACK_DEFINE(lines, port, pending);
};

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Fd& operator=(Fd&& o) noexcept {
    std::swap(fd_, o.fd_);
    return *this;
  }
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

[[noreturn]] void fail(const std::string& what) {
  throw std::system_error(errno, std::generic_category(), what);
}

Fd listen_on(int port) {
  if (port <= 0 || port > 65535)
    throw std::invalid_argument("port out of range: " + std::to_string(port));
  Fd listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (listener.get() < 0) fail("socket");
  int one = 1;
  ::setsockopt(listener.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0)
    fail("cannot listen on 127.0.0.1:" + std::to_string(port));
  if (::listen(listener.get(), 64) != 0) fail("listen");
  return listener;
}

// This version's answer to one line.
std::string answer(const std::string& line, std::uint64_t n) {
#if ECHO_VERSION == 1
  (void)n;
  return line + "\n";
#else
  std::string upper = line;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return std::to_string(n) + " " + upper + "\n";
#endif
}

}  // namespace

int server(uni::ServiceContext& ctx, int port) {
  EchoState state;
  Fd listener(-1);
  std::vector<Fd> clients;
  if (auto prior = ctx.take_over<EchoState>()) {  // a become: carry on where the other left off
    state = std::move(prior->state);
    listener = Fd(prior->fds.at(0));
    for (std::size_t i = 1; i < prior->fds.size(); ++i) clients.emplace_back(prior->fds[i]);
    state.pending.resize(clients.size());
    std::printf("echo v%d took over 127.0.0.1:%d: %zu client(s), %llu line(s) so far\n",
                ECHO_VERSION, state.port, clients.size(),
                static_cast<unsigned long long>(state.lines));
  } else {
    listener = listen_on(port);
    state.port = port;
    std::printf("echo v%d serving on 127.0.0.1:%d\n", ECHO_VERSION, port);
  }
  std::fflush(stdout);

  for (;;) {
    std::vector<pollfd> fds{{listener.get(), POLLIN, 0}, {ctx.handover_fd(), POLLIN, 0}};
    for (const Fd& c : clients) fds.push_back({c.get(), POLLIN, 0});
    if (::poll(fds.data(), fds.size(), -1) < 0 && errno != EINTR) fail("poll");
    if (ctx.handover_requested()) {
      // Everything another version needs: the listener first, then the
      // clients in the order of state.pending. Does not return.
      std::vector<int> handed{listener.get()};
      for (const Fd& c : clients) handed.push_back(c.get());
      ctx.hand_over(state, handed);
    }
    if (fds[0].revents & POLLIN) {
      int fd = ::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC);
      if (fd >= 0) {
        clients.emplace_back(fd);
        state.pending.emplace_back();
      }
    }
    for (std::size_t i = fds.size() - 1; i >= 2; --i) {
      if (!fds[i].revents) continue;
      std::size_t k = i - 2;
      char buffer[4096];
      ssize_t n = ::recv(clients[k].get(), buffer, sizeof(buffer), 0);
      if (n <= 0) {
        clients.erase(clients.begin() + static_cast<std::ptrdiff_t>(k));
        state.pending.erase(state.pending.begin() + static_cast<std::ptrdiff_t>(k));
        continue;
      }
      std::string& pending = state.pending[k];
      pending.append(buffer, static_cast<std::size_t>(n));
      std::string out;
      for (std::size_t nl; (nl = pending.find('\n')) != std::string::npos;
           pending.erase(0, nl + 1)) {
        std::string line = pending.substr(0, nl);
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line == "QUIT") {
          std::printf("done serving on 127.0.0.1:%d\n", state.port);
          std::fflush(stdout);
          return state.port;
        }
        out += answer(line, ++state.lines);
      }
      if (!out.empty()) ::send(clients[k].get(), out.data(), out.size(), MSG_NOSIGNAL);
    }
  }
}

UNI_EXPORT(server);
