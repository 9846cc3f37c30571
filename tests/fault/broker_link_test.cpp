// A boss's requests across a dropped connection (src/broker/zmq/zmq_boss_link.hpp):
// a status request in flight when the manager dies fails at once with an
// error that says the connection dropped, instead of waiting out its timeout;
// and because nothing awaits an answer that was lost, the next request after
// the manager is back gets its own answer, not a stale one.
#include <csignal>
#include <future>

#include "fault_support.hpp"

namespace uni::test {
namespace {

TEST(BrokerLink, AStatusRequestFailsWhenTheConnectionDropsAndTheNextIsAnsweredRight) {
  TestCluster cluster({.workers = 1, .slots = 1});
  uni::Cluster boss = cluster.connect();
  ASSERT_EQ(boss.status().workers.size(), 1u);

  // A frozen manager takes the request into its socket buffer and never answers...
  cluster.kill_manager(SIGSTOP);
  std::future<uni::ClusterStatus> asked =
      std::async(std::launch::async, [&] { return boss.status(); });
  // ...until it dies: the kernel closes its connections, the boss sees the drop.
  std::this_thread::sleep_for(500ms);
  cluster.kill_manager(SIGKILL);
  ASSERT_TRUE(cluster.manager().wait_for(5s).has_value());
  try {
    asked.get();
    ADD_FAILURE() << "a status request answered by a manager that died";
  } catch (const uni::ConnectError& e) {
    EXPECT_NE(std::string(e.what()).find("dropped before it answered the status request"),
              std::string::npos)
        << e.what();
  }

  cluster.restart_manager();
  ASSERT_TRUE(cluster.wait_for_worker_count(1));
  uni::ClusterStatus again = boss.status();
  EXPECT_EQ(again.workers.size(), 1u);
  EXPECT_EQ(again.queued, 0u);
}

}  // namespace
}  // namespace uni::test
