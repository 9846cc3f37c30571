// An executor's life as the supervisor manages it: a task that breaks its
// executor's channel is charged for it like any crash (and not rerun without
// limit); executors are replaced after an out-of-memory failure, after
// --max-tasks-per-executor tasks and past --max-executor-memory, between
// tasks and losing nothing; they end cleanly rather than crash at exit, and
// nothing in the worker's log blames a task for the executor's own exit.
#include <fstream>
#include <map>

#include "fault_support.hpp"

namespace uni::test {
namespace {

std::size_t line_count(const std::string& path) { return split_lines(read_text(path)).size(); }

TEST(ExecutorLifecycle, ATaskThatClosesItsChannelIsChargedEachRunAndFailsAfterThree) {
  TestCluster cluster({.workers = 1, .slots = 1});
  std::string runs = (cluster.dir() / "runs.txt").string();
  CommandResult r =
      cluster.uni({"run", module_path("faults"), "close_descriptors", "\"" + runs + "\"", "7"},
                  {.timeout = 60s});
  EXPECT_EQ(r.exit_code, 1) << r.describe();
  EXPECT_TRUE(contains(r.err, "failed 3 attempts")) << r.describe();
  EXPECT_TRUE(contains(r.err, "while running close_descriptors")) << r.describe();
  EXPECT_TRUE(contains(r.err, "channel")) << r.describe();
  EXPECT_EQ(line_count(runs), 3u) << "runs:\n" << read_text(runs) << r.describe();
  EXPECT_EQ(cluster.status()["totals"]["requeued"], 2);
  expect_still_serving(cluster);
  // The executor's exit is not passed off as a crash.
  EXPECT_FALSE(contains(cluster.worker(0).read_stderr(), "SIGSEGV"))
      << cluster.worker(0).read_stderr();
}

TEST(ExecutorLifecycle, WithMaxAttemptsOneItRunsOnce) {
  TestCluster cluster({.workers = 1, .slots = 1});
  std::string runs = (cluster.dir() / "runs.txt").string();
  CommandResult r = cluster.uni({"run", "--max-attempts", "1", module_path("faults"),
                                 "close_descriptors", "\"" + runs + "\"", "7"});
  EXPECT_EQ(r.exit_code, 1) << r.describe();
  EXPECT_EQ(line_count(runs), 1u) << read_text(runs);
  expect_still_serving(cluster);
}

// The executor pid each call of testfns whoami() reports, in order.
std::vector<std::uint32_t> executor_pids(uni::Cluster& boss, int calls) {
  auto whoami = boss.function<std::int64_t()>(module_path("testfns"), "whoami");
  std::vector<std::uint32_t> pids;
  for (int i = 0; i < calls; ++i) {
    auto f = whoami();
    if (!f.wait_for(20s)) {
      ADD_FAILURE() << "call " << i << " of whoami got no result";
      return pids;
    }
    f.get();
    pids.push_back(f.worker().pid);
  }
  return pids;
}

TEST(ExecutorLifecycle, AfterOutOfMemoryTheExecutorIsReplacedAndLaterTasksSucceed) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "address-space limits do not mix with AddressSanitizer";
#endif
  TestCluster cluster({.workers = 1, .slots = 1, .worker_args = {"--mem-limit", "256M"}});
  pid_t worker = cluster.worker(0).pid();
  CommandResult leak = cluster.uni({"run", module_path("faults"), "leak_until_oom"});
  EXPECT_EQ(leak.exit_code, 1) << leak.describe();
  EXPECT_TRUE(contains(leak.err, "out of memory")) << leak.describe();
  // The memory it leaked went with its executor: 64 MiB fit again, each time.
  for (int i = 0; i < 3; ++i) {
    CommandResult ok = cluster.uni({"run", module_path("faults"), "allocate", "64"});
    EXPECT_EQ(ok.exit_code, 0) << ok.describe() << cluster.worker(0).read_stderr();
  }
  EXPECT_TRUE(process_alive(worker));
  EXPECT_TRUE(contains(cluster.worker(0).read_stderr(), "out of memory"))
      << cluster.worker(0).read_stderr();
}

TEST(ExecutorLifecycle, MaxTasksPerExecutorReplacesItAfterNTasks) {
  TestCluster cluster({.workers = 1, .slots = 1, .worker_args = {"--max-tasks-per-executor", "2"}});
  uni::Cluster boss = cluster.connect();
  std::vector<std::uint32_t> pids = executor_pids(boss, 6);
  ASSERT_EQ(pids.size(), 6u);
  for (int i = 0; i < 6; i += 2) EXPECT_EQ(pids[i], pids[i + 1]) << "tasks " << i << ", " << i + 1;
  EXPECT_NE(pids[0], pids[2]);
  EXPECT_NE(pids[2], pids[4]);
  EXPECT_NE(pids[0], pids[4]);
  expect_still_serving(cluster);
  EXPECT_FALSE(contains(cluster.worker(0).read_stderr(), "SIGSEGV"))
      << cluster.worker(0).read_stderr();
}

TEST(ExecutorLifecycle, MaxTasksPerExecutorLosesNothingUnderPipelining) {
  TestCluster cluster({.workers = 1, .slots = 2, .worker_args = {"--max-tasks-per-executor", "7"}});
  uni::Cluster boss = cluster.connect();
  auto ident = boss.function<std::int64_t(std::int64_t)>(module_path("testfns"), "ident");
  std::vector<uni::Future<std::int64_t>> futures;
  for (int i = 0; i < 600; ++i) futures.push_back(ident(i));
  std::map<std::uint32_t, int> per_executor;
  for (int i = 0; i < 600; ++i) {
    ASSERT_TRUE(futures[i].wait_for(60s)) << "task " << i;
    EXPECT_EQ(futures[i].get(), i);
    ++per_executor[futures[i].worker().pid];
  }
  EXPECT_GE(per_executor.size(), 600u / 7);
  for (const auto& [pid, count] : per_executor) EXPECT_LE(count, 7) << "executor " << pid;
  // No task was charged or failed on the way: none was requeued.
  EXPECT_EQ(cluster.status()["totals"]["requeued"], 0);
}

TEST(ExecutorLifecycle, MaxExecutorMemoryReplacesItAfterTheTaskThatPassedIt) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "an executor's own resident memory under AddressSanitizer is near the limit";
#endif
  TestCluster cluster({.workers = 1, .slots = 1, .worker_args = {"--max-executor-memory", "150M"}});
  uni::Cluster boss = cluster.connect();
  // Small tasks stay in one executor.
  std::vector<std::uint32_t> before = executor_pids(boss, 2);
  ASSERT_EQ(before.size(), 2u);
  EXPECT_EQ(before[0], before[1]);
  // A task that leaves 200 MiB resident succeeds, in that same executor...
  auto leak = boss.function<std::int64_t(std::int64_t)>(module_path("faults"), "leak")(200);
  ASSERT_TRUE(leak.wait_for(30s));
  EXPECT_EQ(leak.get(), 200);
  EXPECT_EQ(leak.worker().pid, before[1]);
  // ...which is replaced before the next one.
  std::vector<std::uint32_t> after = executor_pids(boss, 2);
  ASSERT_EQ(after.size(), 2u);
  EXPECT_NE(after[0], before[1]);
  EXPECT_EQ(after[0], after[1]);
  EXPECT_TRUE(contains(cluster.worker(0).read_stderr(), "--max-executor-memory"))
      << cluster.worker(0).read_stderr();
}

TEST(ExecutorLifecycle, UniUpPassesTheReplacementOptionsToItsWorkers) {
  TestCluster cluster({.workers = 0,
                       .slots = 1,
                       .manager_args = {"--max-tasks-per-executor", "1"},
                       .up_workers = 1});
  uni::Cluster boss = cluster.connect();
  std::vector<std::uint32_t> pids = executor_pids(boss, 3);
  ASSERT_EQ(pids.size(), 3u);
  EXPECT_NE(pids[0], pids[1]);
  EXPECT_NE(pids[1], pids[2]);
}

}  // namespace
}  // namespace uni::test
