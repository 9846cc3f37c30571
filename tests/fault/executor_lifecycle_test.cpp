// An executor's life as the supervisor manages it: a task that breaks its
// executor's channel is charged for it like any crash (and not rerun without
// limit), executors end cleanly rather than crash at exit, and nothing in the
// worker's log blames a task for the executor's own exit.
#include <fstream>

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

}  // namespace
}  // namespace uni::test
