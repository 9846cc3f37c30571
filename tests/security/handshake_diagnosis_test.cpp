// What a client says when it cannot get in: a manager that accepts the TCP
// connection but never completes the handshake (here a listener written for
// the test that answers nothing, as an overloaded manager would) is "busy or
// overloaded", not a key problem; a wrong key is still "authentication
// failed". A client that blamed the key for an overload would hide the
// attack and invite a needless key rotation.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>
#include <vector>

#include "common/unique_fd.hpp"
#include "hostile_peers.hpp"
#include "test_cluster.hpp"

namespace uni::test {
namespace {

using namespace std::chrono_literals;

// Accepts connections on 127.0.0.1 and holds them without a word.
class SilentListener {
 public:
  SilentListener() : fd_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(addr);
    if (::bind(fd_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
        ::listen(fd_.get(), 16) != 0 ||
        ::getsockname(fd_.get(), reinterpret_cast<sockaddr*>(&addr), &length) != 0)
      throw std::runtime_error("cannot listen");
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] {
      while (!stop_) {
        pollfd p{fd_.get(), POLLIN, 0};
        if (::poll(&p, 1, 50) > 0) held_.emplace_back(::accept(fd_.get(), nullptr, nullptr));
      }
    });
  }
  ~SilentListener() {
    stop_ = true;
    thread_.join();
  }
  std::string address() const { return "tcp://127.0.0.1:" + std::to_string(port_); }

 private:
  UniqueFd fd_;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::vector<UniqueFd> held_;
  std::thread thread_;
};

TEST(HandshakeDiagnosis, AManagerThatNeverFinishesTheHandshakeIsCalledBusyNotAKeyProblem) {
  TestCluster cluster({.workers = 0});
  SilentListener silent;
  CommandResult r =
      cluster.uni({"run", "--connect", silent.address(), module_path("testfns"), "add", "1", "2"});
  EXPECT_EQ(r.exit_code, 3) << r.describe();
  EXPECT_TRUE(contains(r.err, "did not complete the handshake")) << r.describe();
  EXPECT_TRUE(contains(r.err, "busy or overloaded")) << r.describe();
  EXPECT_FALSE(contains(r.err, "authkey")) << r.describe();
  // The C++ API says the same, as a reason that is not the key's.
  try {
    uni::ConnectOptions options;
    options.authkey = cluster.authkey();
    options.connect_timeout = 4s;
    uni::connect(silent.address(), options);
    ADD_FAILURE() << "connected to a listener that never answers";
  } catch (const uni::ConnectError& e) {
    EXPECT_EQ(e.reason(), uni::ConnectError::Reason::kUnreachable) << e.what();
    EXPECT_TRUE(contains(e.what(), "busy or overloaded")) << e.what();
  }
}

TEST(HandshakeDiagnosis, AWrongKeyIsStillCalledAKeyProblemAndQuickly) {
  TestCluster cluster({.workers = 0});
  CommandResult r = cluster.uni({"status", "--authkey", "not-the-key"});
  EXPECT_EQ(r.exit_code, 3) << r.describe();
  EXPECT_TRUE(contains(r.err, "authentication failed (wrong authkey, or a key not admitted?)"))
      << r.describe();
  EXPECT_FALSE(contains(r.err, "busy")) << r.describe();
  EXPECT_LT(r.elapsed, 3000ms) << r.describe();
}

}  // namespace
}  // namespace uni::test
