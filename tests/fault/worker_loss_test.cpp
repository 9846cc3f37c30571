// A worker that dies, goes silent or is told to stop loses no task: its
// in-flight tasks run elsewhere, every result reaches the boss exactly once,
// a late result from a worker presumed dead is dropped, and SIGTERM drains.
#include <csignal>
#include <fstream>
#include <map>

#include "fault_support.hpp"

namespace uni::test {
namespace {

TEST(WorkerLoss, KillNineOfAWorkerMidMapLosesNothing) {
  TestCluster cluster({.workers = 2, .slots = 2});
  ChildProcess map = start_uni(cluster, "map",
                               {"map", module_path("faults"), "slow", "--input",
                                cluster.dir().write("in.jsonl", slow_inputs(16, 500)).string()});
  // Wait until both workers run tasks, then kill one outright.
  ASSERT_TRUE(wait_status(cluster, [](const nlohmann::json& s) {
    for (const auto& w : s["workers"])
      if (w["busy"] == 0) return false;
    return s["workers"].size() == 2;
  }));
  cluster.kill_worker(0, SIGKILL);
  auto status = map.wait_for(60s);
  ASSERT_TRUE(status.has_value()) << "the map never finished";
  EXPECT_EQ(status->code, 0) << map.read_stderr();
  CommandResult r;
  r.out = map.read_stdout();
  expect_each_result_once(r, 16);
  EXPECT_GT(cluster.status()["totals"]["requeued"].get<int>(), 0) << "no task was requeued";
  expect_still_serving(cluster);
}

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

TEST(WorkerLoss, SigtermDrainsRunningTasksAndHandsBackTheRest) {
  TestCluster cluster({.workers = 2, .slots = 2});
  std::string runs = (cluster.dir() / "runs.txt").string();
  std::string input;
  for (int i = 1; i <= 12; ++i) input += "[\"" + runs + "\", " + std::to_string(i) + ", 800]\n";
  ChildProcess map = start_uni(cluster, "map",
                               {"map", module_path("faults"), "counted", "--input",
                                cluster.dir().write("in.jsonl", input).string()});
  ASSERT_TRUE(wait_status(cluster, [](const nlohmann::json& s) {
    for (const auto& w : s["workers"])
      if (w["busy"] == 0) return false;
    return s["workers"].size() == 2;
  }));
  pid_t drained = cluster.worker(0).pid();
  cluster.worker(0).signal(SIGTERM);
  auto worker_exit = cluster.worker(0).wait_for(30s);
  ASSERT_TRUE(worker_exit.has_value()) << "the worker did not finish draining";
  EXPECT_FALSE(worker_exit->signaled) << describe(worker_exit);
  EXPECT_EQ(worker_exit->code, 0);
  EXPECT_TRUE(contains(cluster.worker(0).read_stderr(), "draining"));

  auto status = map.wait_for(60s);
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->code, 0) << map.read_stderr();
  CommandResult r;
  r.out = map.read_stdout();
  expect_each_result_once(r, 12);
  // Drained tasks finished where they ran; handed-back ones ran elsewhere:
  // every task started exactly once.
  std::map<std::string, int> starts;
  for (const std::string& line : split_lines(read_text(runs))) ++starts[line];
  EXPECT_EQ(starts.size(), 12u);
  for (const auto& [value, count] : starts) EXPECT_EQ(count, 1) << "task " << value << " ran twice";
  EXPECT_TRUE(cluster.worker_status(drained).is_null());
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
