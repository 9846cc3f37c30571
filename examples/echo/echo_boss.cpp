// The echo boss: turns two workers into TCP echo servers, talks to each over
// TCP, tells each to QUIT, and prints the ports the servers returned.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <uni/uni.hpp>

#include "echo.hpp"

namespace {

// Connects to 127.0.0.1:port, retrying while the service starts (up to 10 s).
int connect_to(int port) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (;;) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) return fd;
    ::close(fd);
    if (std::chrono::steady_clock::now() > deadline)
      throw uni::Error("no echo server answered on port " + std::to_string(port));
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

std::string say(int fd, const std::string& line) {
  std::string message = line + "\n";
  ::send(fd, message.data(), message.size(), MSG_NOSIGNAL);
  std::string reply;
  char buffer[256];
  while (reply.find('\n') == std::string::npos) {
    ssize_t n = ::recv(fd, buffer, sizeof(buffer), 0);
    if (n <= 0) break;
    reply.append(buffer, static_cast<std::size_t>(n));
  }
  if (!reply.empty() && reply.back() == '\n') reply.pop_back();
  return reply;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"echo_boss: turn workers into TCP echo servers"};
  std::string connect, authkey, authkey_file;
  std::vector<int> ports{5001, 5002};
  app.add_option("--connect", connect, "manager address")->envname("UNI_CONNECT");
  app.add_option("--authkey", authkey,
                 "shared secret (default: $UNI_AUTHKEY or ~/.config/uni/authkey)");
  app.add_option("--authkey-file", authkey_file, "file holding the shared secret");
  app.add_option("--ports", ports, "ports for the echo servers")
      ->delimiter(',')
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  try {
    uni::ConnectOptions options;
    options.authkey = authkey;
    options.authkey_file = authkey_file;
    uni::Cluster cluster = uni::connect(connect, options);
    std::vector<uni::Service<int>> services;
    for (int port : ports) services.push_back(cluster.spawn(server, port));
    for (std::size_t i = 0; i < ports.size(); ++i) {
      int fd = connect_to(ports[i]);
      std::string reply = say(fd, "hello, port " + std::to_string(ports[i]));
      std::printf("port %d echoed: %s\n", ports[i], reply.c_str());
      say(fd, "QUIT");
      ::close(fd);
    }
    for (auto& service : services) {
      int port = service.get();
      uni::WorkerInfo w = service.future().worker();
      std::printf("server returned %d (ran as pid %u on worker %s)\n", port, w.pid, w.id.c_str());
    }
  } catch (const uni::ConnectError& e) {
    std::fprintf(stderr, "echo_boss: %s\n", e.what());
    return 3;
  } catch (const uni::Error& e) {
    std::fprintf(stderr, "echo_boss: %s\n", e.what());
    return 1;
  }
  return 0;
}
