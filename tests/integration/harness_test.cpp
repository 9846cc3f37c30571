// The harness's own promises, which the fault-injection tests build on:
// nothing outlives a TestCluster, a killed worker supervisor takes its
// executors with it and a new worker can join, and a manager restarted on the same address gets
// its workers back.
#include <gtest/gtest.h>

#include "test_cluster.hpp"

namespace uni::test {
namespace {

using namespace std::chrono_literals;

void expect_serving(TestCluster& cluster) {
  CommandResult r = cluster.uni({"run", module_path("testfns"), "add", "40", "2"});
  EXPECT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_EQ(r.out, "42\n") << r.describe();
}

TEST(Harness, DestroyedClusterLeavesNoProcessBehind) {
  std::vector<pid_t> pids;
  {
    TestCluster cluster({.workers = 2, .slots = 2});
    expect_serving(cluster);
    for (pid_t p : cluster.manager().processes()) pids.push_back(p);
    for (std::size_t i = 0; i < cluster.worker_count(); ++i)
      for (pid_t p : cluster.worker(i).processes()) pids.push_back(p);
    // Manager, two supervisors and at least one executor each.
    EXPECT_GE(pids.size(), 5u);
  }
  for (pid_t p : pids) EXPECT_FALSE(process_alive(p)) << "pid " << p << " outlived its cluster";
}

// kill -9 of the supervisor alone: its executors (process groups of their
// own) must end too (PR_SET_PDEATHSIG), and the manager drops the worker.
TEST(Harness, KilledSupervisorTakesItsExecutorsAndANewWorkerJoins) {
  TestCluster cluster({.workers = 1, .slots = 2});
  expect_serving(cluster);
  ChildProcess& worker = cluster.worker(0);
  std::vector<pid_t> tree = worker.processes();
  ASSERT_GE(tree.size(), 2u) << "expected the supervisor and its executors";
  worker.signal(SIGKILL);
  std::optional<ExitStatus> exit = worker.wait_for(10s);
  ASSERT_TRUE(exit);
  EXPECT_TRUE(exit->signaled);
  EXPECT_TRUE(wait_processes_gone(tree, 10s)) << "executors outlived their supervisor";
  // The manager notices the silent worker (heartbeat timeout) and drops it.
  EXPECT_TRUE(cluster.wait_for_worker_count(0, 30s));
  cluster.add_worker(1);
  expect_serving(cluster);
}

TEST(Harness, RestartedManagerOnTheSameAddressGetsItsWorkerBack) {
  TestCluster cluster({.workers = 1, .slots = 1});
  const std::string address = cluster.address();
  ExitStatus stopped = cluster.stop_manager();
  EXPECT_FALSE(stopped.signaled) << stopped.describe();
  cluster.restart_manager();
  EXPECT_EQ(cluster.address(), address);
  // The worker reconnects by itself.
  EXPECT_TRUE(cluster.wait_for_worker(cluster.worker(0).pid(), 30s));
  EXPECT_TRUE(cluster.worker(0).running());
  expect_serving(cluster);

  // Also after kill -9 of the manager.
  cluster.kill_manager();
  ASSERT_TRUE(cluster.manager().wait_for(10s));
  cluster.restart_manager();
  EXPECT_TRUE(cluster.wait_for_worker(cluster.worker(0).pid(), 30s));
  expect_serving(cluster);
}

}  // namespace
}  // namespace uni::test
