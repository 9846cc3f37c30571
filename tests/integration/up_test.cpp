// Starting and stopping clusters: `uni up` (a manager and its workers in one
// foreground process tree, usable like any cluster, gone entirely after
// SIGINT, also when the whole process group gets it as from a terminal, and
// restarting a worker that dies), and the stop signals of a standalone
// manager and worker.
#include <gtest/gtest.h>

#include <unistd.h>

#include <set>
#include <thread>

#include "test_cluster.hpp"

namespace uni::test {
namespace {

using namespace std::chrono_literals;

TEST(Up, StartsManagerAndTwoWorkersRunsFactorialAndSigintStopsEverything) {
  TestCluster cluster({.workers = 0, .slots = 1, .up_workers = 2});
  ChildProcess& up = cluster.manager();
  ASSERT_TRUE(cluster.wait_for_worker_count(2)) << up.read_stderr();

  nlohmann::json status = cluster.status();
  std::set<pid_t> processes;  // everything the cluster runs: workers and executors
  for (const auto& w : status["workers"]) {
    auto pid = static_cast<pid_t>(w.value("pid", 0));
    EXPECT_EQ(parent_pid(pid), up.pid()) << "worker " << pid << " is not a child of uni up";
    processes.insert(pid);
  }

  uni::Cluster boss = cluster.connect();
  auto factorial = boss.function<std::uint64_t(int)>(module_path("factorial"), "factorial");
  std::vector<Future<std::uint64_t>> futures;
  for (int n = 1; n <= 12; ++n) futures.push_back(factorial(n));
  std::uint64_t expected = 1;
  for (int n = 1; n <= 12; ++n) {
    expected *= static_cast<std::uint64_t>(n);
    ASSERT_TRUE(futures[n - 1].wait_for(30s));
    EXPECT_EQ(futures[n - 1].get(), expected);
    processes.insert(static_cast<pid_t>(futures[n - 1].worker().pid));
  }
  CommandResult r = cluster.uni({"run", module_path("factorial"), "factorial", "20"});
  EXPECT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_EQ(r.out, std::to_string(expected * 13 * 14 * 15 * 16 * 17 * 18 * 19 * 20) + "\n");

  std::vector<pid_t> tree = up.processes();  // uni up, its workers, their executors
  EXPECT_GE(tree.size(), 5u);
  up.signal(SIGINT);
  std::optional<ExitStatus> exit = up.wait_for(15s);
  ASSERT_TRUE(exit) << "uni up did not end after SIGINT";
  EXPECT_EQ(up.read_stderr().find("Interrupted system call"), std::string::npos)
      << up.read_stderr();
  EXPECT_FALSE(exit->signaled) << exit->describe();
  EXPECT_EQ(exit->code, 0) << exit->describe();
  for (pid_t pid : processes) tree.push_back(pid);
  EXPECT_TRUE(wait_processes_gone(tree, 10s));
  for (pid_t pid : tree) EXPECT_FALSE(process_alive(pid)) << "pid " << pid << " outlived uni up";
  EXPECT_TRUE(live_processes_in_group(up.pid()).empty());
}

// Ctrl-C in a terminal sends SIGINT to the whole foreground process group:
// uni up and its workers get it together. The workers end, and uni up must
// not take that for deaths to repair (it used to restart them, and the new
// workers then failed to reach the manager that was stopping).
TEST(Up, SigintToTheWholeProcessGroupStopsWithoutRestartingWorkers) {
  TestCluster cluster({.workers = 0, .slots = 1, .up_workers = 2});
  ChildProcess& up = cluster.manager();
  ASSERT_TRUE(cluster.wait_for_worker_count(2)) << up.read_stderr();
  std::vector<pid_t> workers;
  nlohmann::json status = cluster.status();
  for (const auto& w : status["workers"]) workers.push_back(static_cast<pid_t>(w.value("pid", 0)));
  ASSERT_EQ(workers.size(), 2u);
  for (pid_t pid : workers) ASSERT_EQ(::getpgid(pid), up.pid()) << "worker " << pid;

  ASSERT_EQ(::kill(-up.pid(), SIGINT), 0);  // as the terminal does
  std::optional<ExitStatus> exit = up.wait_for(30s);
  ASSERT_TRUE(exit) << "uni up did not end after SIGINT to its group\n" << up.read_stderr();
  EXPECT_FALSE(exit->signaled) << exit->describe();
  EXPECT_EQ(exit->code, 0) << exit->describe() << "\n" << up.read_stderr();
  const std::string err = up.read_stderr();
  EXPECT_EQ(err.find("starting another"), std::string::npos) << err;
  EXPECT_EQ(err.find("cannot connect"), std::string::npos) << err;
  EXPECT_TRUE(wait_processes_gone(workers, 10s));
  EXPECT_TRUE(live_processes_in_group(up.pid()).empty());
}

TEST(Up, AWorkerThatDiesIsStartedAgain) {
  TestCluster cluster({.workers = 0, .slots = 1, .up_workers = 1});
  ChildProcess& up = cluster.manager();
  ASSERT_TRUE(cluster.wait_for_worker_count(1)) << up.read_stderr();
  auto pid = static_cast<pid_t>(cluster.status()["workers"][0].value("pid", 0));
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  EXPECT_TRUE(up.wait_for_stderr("starting another", 20s)) << up.read_stderr();
  nlohmann::json status;
  for (int i = 0; i < 100; ++i) {
    status = cluster.status();
    if (status.is_object() && status["workers"].size() == 1 &&
        status["workers"][0].value("pid", 0) != pid)
      break;
    std::this_thread::sleep_for(200ms);
  }
  ASSERT_EQ(status["workers"].size(), 1u) << status.dump();
  EXPECT_NE(status["workers"][0].value("pid", 0), pid) << status.dump();
}

TEST(Shutdown, ManagerStopsCleanlyOnSigterm) {
  TestCluster cluster({.workers = 0});
  cluster.manager().signal(SIGTERM);
  std::optional<ExitStatus> exit = cluster.manager().wait_for(10s);
  ASSERT_TRUE(exit) << "uni manager did not end after SIGTERM";
  EXPECT_FALSE(exit->signaled) << exit->describe();
  EXPECT_EQ(exit->code, 0) << exit->describe() << "\n" << cluster.manager().read_stderr();
}

TEST(Shutdown, IdleWorkerStopsCleanlyOnSigtermAndLeavesTheManager) {
  TestCluster cluster({.workers = 1, .slots = 2});
  ChildProcess& worker = cluster.worker(0);
  std::vector<pid_t> group = worker.processes();  // the supervisor and its executors
  worker.signal(SIGTERM);
  std::optional<ExitStatus> exit = worker.wait_for(15s);
  ASSERT_TRUE(exit) << "uni worker did not end after SIGTERM";
  EXPECT_FALSE(exit->signaled) << exit->describe();
  EXPECT_EQ(exit->code, 0) << exit->describe() << "\n" << worker.read_stderr();
  EXPECT_TRUE(wait_processes_gone(group, 10s)) << "executors outlived their worker";
  for (pid_t pid : group) EXPECT_FALSE(process_alive(pid)) << pid;
  EXPECT_TRUE(cluster.wait_for_worker_count(0)) << "the manager still lists the stopped worker";
}

}  // namespace
}  // namespace uni::test
