// Loopback TCP helpers for tests that talk to services the cluster runs:
// finding a free port and a small line-oriented client.
#pragma once

#include <chrono>
#include <optional>
#include <string>

namespace uni::test {

// A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0 and
// released). Another process may take it meanwhile; tests use it at once.
int free_tcp_port();

// Whether a listener could bind 127.0.0.1:port right now.
bool tcp_port_free(int port);

// Whether something accepts connections on 127.0.0.1:port right now.
bool tcp_port_accepting(int port);

class TcpClient {
 public:
  // Connects to 127.0.0.1:port, retrying (a service may still be starting)
  // until `timeout`. Throws std::runtime_error if nothing accepted.
  static TcpClient connect(int port, std::chrono::milliseconds timeout = std::chrono::seconds(10));

  TcpClient(TcpClient&& other) noexcept;
  TcpClient& operator=(TcpClient&& other) noexcept;
  ~TcpClient();

  // Sends `line` and a newline. False if the connection is gone.
  bool send_line(const std::string& line);
  // The next line without its newline; nullopt on timeout or end of stream.
  std::optional<std::string> read_line(std::chrono::milliseconds timeout = std::chrono::seconds(5));
  void close();

 private:
  explicit TcpClient(int fd) : fd_(fd) {}
  int fd_ = -1;
  std::string buffer_;
};

}  // namespace uni::test
