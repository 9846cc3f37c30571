// Before authentication: what a peer without the key can make the manager
// hold. Attackers written for the test open plain TCP connections to the
// manager's port and stream a CURVE handshake frame that claims 250 MB, or
// open connections and say nothing; meanwhile a real client runs tasks. The
// manager must stay small (its peak resident memory is read from /proc),
// keep answering, and count what it refused.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "hostile_peers.hpp"
#include "test_cluster.hpp"

namespace uni::test {
namespace {

using namespace std::chrono_literals;

constexpr std::uint64_t kMiB = 1 << 20;

std::uint64_t refused(const nlohmann::json& status, const std::string& limit) {
  return status["limits"]["refused"].value(limit, std::uint64_t{0});
}

// Streams a handshake frame claiming 250 MB on a fresh connection, again and
// again, until `stop`: the libzmq of old buffered such a frame whole.
void stream_huge_handshake_frames(int port, const std::atomic<bool>& stop,
                                  std::atomic<std::uint64_t>& sent) {
  const std::string junk(64 * 1024, 'x');
  while (!stop) {
    try {
      RawTcp tcp(port);
      if (!tcp.write(zmtp_greeting()) || !tcp.write(zmtp_command_header(250 * kMiB))) continue;
      for (std::uint64_t streamed = 0; !stop && streamed < 250 * kMiB; streamed += junk.size()) {
        if (!tcp.write(junk)) break;
        sent += junk.size();
      }
    } catch (const std::exception&) {
      // Refused or reset: connect again.
    }
    std::this_thread::sleep_for(10ms);
  }
}

TEST(PreAuthentication, HugeHandshakeFramesOnTenConnectionsCostTheManagerLittle) {
  TestCluster cluster;
  // The first task loads the module everywhere: what is timed below is the
  // round trip alone.
  ASSERT_EQ(cluster.uni({"run", module_path("testfns"), "add", "1", "2"}).exit_code, 0);
  const pid_t manager = cluster.manager().pid();
  const int port = port_of(cluster.address());

  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> sent{0};
  std::vector<std::thread> attackers;
  for (int i = 0; i < 10; ++i)
    attackers.emplace_back(stream_huge_handshake_frames, port, std::cref(stop), std::ref(sent));
  std::vector<std::chrono::milliseconds> round_trips;
  auto until = std::chrono::steady_clock::now() + 4s;
  while (std::chrono::steady_clock::now() < until) {
    CommandResult r = cluster.uni({"run", module_path("testfns"), "add", "20", "22"});
    EXPECT_EQ(r.exit_code, 0) << r.describe();
    EXPECT_EQ(r.out, "42\n") << r.describe();
    round_trips.push_back(r.elapsed);
  }
  stop = true;
  for (std::thread& t : attackers) t.join();

  std::uint64_t peak = peak_rss(manager);
  EXPECT_LT(peak, 200 * kMiB) << "the manager's peak resident memory: " << peak / kMiB << " MiB";
  ASSERT_FALSE(round_trips.empty());
  for (std::chrono::milliseconds t : round_trips)
    EXPECT_LT(t, 1000ms) << "a uni run took " << t.count() << " ms under the attack";
  // The attackers got bytes out; the manager never kept them.
  EXPECT_GT(sent.load(), 0u);
  nlohmann::json status = cluster.status();
  EXPECT_GT(refused(status, "handshakes-failed"), 0u) << status["limits"].dump();
  EXPECT_TRUE(cluster.manager().running()) << cluster.manager().read_stderr();
}

TEST(PreAuthentication, HandshakesBeyondTheLimitAreClosedAndClientsStillGetIn) {
  TestCluster cluster({.manager_args = {"--max-handshakes", "16"}});
  ASSERT_EQ(cluster.uni({"run", module_path("testfns"), "add", "1", "2"}).exit_code, 0);
  const int port = port_of(cluster.address());
  // 200 connections that say a greeting and then nothing: each would hold a
  // handshake for libzmq's whole handshake interval.
  std::vector<RawTcp> silent;
  for (int i = 0; i < 200; ++i) {
    silent.emplace_back(port);
    ASSERT_TRUE(silent.back().write(zmtp_greeting()));
  }
  // The oldest are closed as newer ones arrive: no more than the limit (and
  // those not yet looked at) stay.
  std::size_t closed = 0;
  for (RawTcp& tcp : silent)
    if (tcp.closed_by_peer(20ms)) ++closed;
  EXPECT_GE(closed, 150u);
  // A client with the key completes its handshake in milliseconds: it gets in.
  auto start = std::chrono::steady_clock::now();
  CommandResult r = cluster.uni({"run", module_path("testfns"), "add", "20", "22"});
  EXPECT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1000ms) << r.describe();
  nlohmann::json status = cluster.status();
  EXPECT_GE(refused(status, "handshakes-shed"), 150u) << status["limits"].dump();
  EXPECT_TRUE(contains(cluster.manager().read_stderr(), "were completing their handshake"))
      << cluster.manager().read_stderr();
}

}  // namespace
}  // namespace uni::test
