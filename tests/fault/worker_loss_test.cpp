// A worker that dies, goes silent or is told to stop loses no task: its
// in-flight tasks run elsewhere, every result reaches the boss exactly once,
// a late result from a worker presumed dead is dropped, and SIGTERM drains.
#include <csignal>
#include <fstream>
#include <map>

#include "fault_support.hpp"

namespace uni::test {
namespace {

TEST(WorkerLoss, ALateResultFromAWorkerPresumedDeadIsDropped) {
  TestCluster cluster({.workers = 1, .slots = 1, .manager_args = {"--heartbeat-timeout", "1.5"}});
  ChildProcess map = start_uni(cluster, "map",
                               {"map", module_path("faults"), "slow", "--input",
                                cluster.dir().write("in.jsonl", slow_inputs(3, 1500)).string()});
  ASSERT_TRUE(wait_status(cluster, [](const nlohmann::json& s) { return s["running"] == 1; }));
  // Freeze the worker (and its executors) mid-task: it goes silent.
  ChildProcess& frozen = cluster.worker(0);
  frozen.kill(SIGSTOP);
  ChildProcess& other = cluster.add_worker(1, {}, false);
  // The manager declares the frozen worker dead and reruns its task on the other.
  ASSERT_TRUE(wait_status(cluster, [&](const nlohmann::json& s) {
    return s["workers"].size() == 1 && s["workers"][0]["pid"] == other.pid();
  }));
  frozen.kill(SIGCONT);  // it wakes up with a finished (late) result
  auto status = map.wait_for(60s);
  ASSERT_TRUE(status.has_value()) << "map: " << map.read_stderr()
                                  << "\nmanager: " << cluster.manager().read_stderr()
                                  << "\nworker: " << frozen.read_stderr()
                                  << "\nnew worker: " << other.read_stderr()
                                  << "\nstatus: " << cluster.status().dump();
  EXPECT_EQ(status->code, 0) << map.read_stderr();
  CommandResult r;
  r.out = map.read_stdout();
  expect_each_result_once(r, 3);
  expect_still_serving(cluster);
}

TEST(WorkerLoss, TasksWaitForAWorkerAndRunWhenOneJoins) {
  TestCluster cluster({.workers = 0});
  ChildProcess run = start_uni(cluster, "run", {"run", module_path("testfns"), "add", "20", "22"});
  EXPECT_TRUE(run.wait_for_stderr("no worker", 10s)) << run.read_stderr();
  cluster.add_worker(1);
  auto status = run.wait_for(20s);
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->code, 0) << run.read_stderr();
  EXPECT_EQ(run.read_stdout(), "42\n");
}

}  // namespace
}  // namespace uni::test
