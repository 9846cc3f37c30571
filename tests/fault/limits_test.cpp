// Bounded resources: a full manager pushes back (tasks wait, none is lost),
// oversized messages and modules get a clear error while the connection
// stays up, and a boss that vanished has its tasks dropped after the grace.
#include <csignal>
#include <filesystem>

#include "fault_support.hpp"

namespace uni::test {
namespace {

TEST(Limits, AFullManagerPushesBackAndLosesNothing) {
  TestCluster cluster({.workers = 0, .manager_args = {"--max-tasks", "10"}});
  std::string input;
  for (int i = 1; i <= 50; ++i) input += "[" + std::to_string(i) + ", 0]\n";
  ChildProcess map = start_uni(cluster, "map",
                               {"map", module_path("faults"), "slow", "--input",
                                cluster.dir().write("in.jsonl", input).string()});
  // The manager holds no more than its limit while nobody works.
  ASSERT_TRUE(wait_status(cluster, [](const nlohmann::json& s) { return s["queue"] == 10; }));
  std::this_thread::sleep_for(500ms);
  EXPECT_LE(cluster.status()["queue"].get<int>(), 10);
  cluster.add_worker(2);
  auto status = map.wait_for(60s);
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->code, 0) << map.read_stderr();
  CommandResult r;
  r.out = map.read_stdout();
  expect_each_result_once(r, 50);
}

TEST(Limits, OversizedArgumentsAreRefusedAndTheConnectionKept) {
  TestCluster cluster(
      {.workers = 1, .manager_args = {"--max-message", "8M", "--max-module", "7M"}});
  uni::Cluster boss = cluster.connect();  // 7M: testfns is over 4 MB under the sanitizers
  auto greet = boss.function<std::string(std::string)>(module_path("testfns"), "greet");
  auto big = greet(std::string(9 << 20, 'x'));
  ASSERT_TRUE(big.wait_for(10s));
  try {
    big.get();
    ADD_FAILURE() << "a 9 MB argument went through an 8 MB limit";
  } catch (const TaskError& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kRejected);
    EXPECT_TRUE(contains(e.what(), "--max-message")) << e.what();
  }
  // Same connection, normal task.
  auto ok = greet(std::string("you"));
  ASSERT_TRUE(ok.wait_for(10s));
  EXPECT_FALSE(ok.get().empty());
}

TEST(Limits, AModuleOverTheLimitIsRefusedWithItsSize) {
  // Room for testfns (expect_still_serving), not for bigmod's 3 MiB of
  // padding more: halfway between them, as sizes differ between builds
  // (debug info, sanitizers).
  std::uintmax_t small = std::filesystem::file_size(module_path("testfns"));
  std::uintmax_t big = std::filesystem::file_size(module_path("bigmod"));
  ASSERT_GT(big, small + (512u << 10));
  std::uintmax_t limit_k = (small + big) / 2 / 1024;
  TestCluster cluster(
      {.workers = 1,
       .manager_args = {"--max-message", "16M", "--max-module", std::to_string(limit_k) + "K"}});
  CommandResult r = cluster.uni({"run", module_path("bigmod"), "big_size"});
  EXPECT_EQ(r.exit_code, 1) << r.describe();
  EXPECT_TRUE(contains(r.err, "exceeds the manager's limit of " + std::to_string(limit_k * 1024) +
                                  " bytes (--max-module)"))
      << r.describe();
  expect_still_serving(cluster);
}

TEST(Limits, AVanishedBossLosesItsQueuedTasksAfterTheGrace) {
  TestCluster cluster(
      {.workers = 0, .manager_args = {"--boss-grace", "1", "--heartbeat-timeout", "1"}});
  ChildProcess run = start_uni(cluster, "run", {"run", module_path("testfns"), "add", "1", "2"});
  ASSERT_TRUE(wait_status(cluster, [](const nlohmann::json& s) { return s["queue"] == 1; }));
  run.kill(SIGKILL);
  EXPECT_TRUE(wait_status(
      cluster, [](const nlohmann::json& s) { return s["queue"] == 0; }, 15s))
      << cluster.status().dump();
}

}  // namespace
}  // namespace uni::test
