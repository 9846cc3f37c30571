// Module integrity at every load (docs/security.md §7): a task that renames
// other bytes over `<hash>.so` in its worker's module cache, or rewrites the
// file in place, and kills its sibling executors so that fresh ones load the
// module again, must not make another boss's `factorial 5` run its code. With
// the sandbox off the worker sees the file no longer matches its hash,
// discards it, says so, and loads only verified bytes; with the sandbox on
// the task cannot even reach the cache.
#include "common/hash.hpp"
#include "security_support.hpp"

namespace uni::test {
namespace {

std::filesystem::path cached_file(const TestCluster& cluster, const std::string& module) {
  return cluster.module_cache_dir() / (ModuleHash::of(read_text(module)).hex() + ".so");
}

void expect_factorial_of_5_is_120(TestCluster& cluster, int times) {
  for (int i = 0; i < times; ++i) {
    CommandResult r = cluster.uni({"run", module_path("factorial"), "factorial", "5"});
    EXPECT_EQ(r.exit_code, 0) << r.describe();
    EXPECT_EQ(r.out, "120\n") << "the poisoned module ran\n" << r.describe();
  }
}

TEST(CachePoisoning, AFileRenamedOverOrRewrittenInTheCacheNeverRunsAndIsDiscarded) {
  // Without the sandbox the task can write the cache: integrity must hold by
  // itself. A fresh executor per task, as the task's killing of its
  // siblings would make them anyway.
  TestCluster cluster({.workers = 1,
                       .slots = 2,
                       .worker_args = {"--sandbox", "off", "--max-tasks-per-executor", "1"}});
  expect_factorial_of_5_is_120(cluster, 1);
  const std::string file = cached_file(cluster, module_path("factorial")).string();
  ASSERT_TRUE(std::filesystem::exists(file));

  for (bool rename_over : {true, false}) {
    nlohmann::json done = hostile(
        cluster, "poison_cache",
        {quoted(file), quoted(module_path("evil_factorial")), rename_over ? "true" : "false"});
    ASSERT_TRUE(contains(text_of(done), "poisoned")) << done;
    expect_factorial_of_5_is_120(cluster, 3);
    // The worker noticed, said so, and the cache holds the module again.
    EXPECT_TRUE(contains(cluster.worker(0).read_stderr(), "does not match its hash"))
        << cluster.worker(0).read_stderr();
    EXPECT_EQ(ModuleHash::of(read_text(file)), ModuleHash::of(read_text(module_path("factorial"))));
  }
}

TEST(CachePoisoning, APoisonedCacheFoundAtStartIsFetchedAgain) {
  TestCluster cluster({.workers = 1, .slots = 1});
  expect_factorial_of_5_is_120(cluster, 1);
  const std::filesystem::path file = cached_file(cluster, module_path("factorial"));
  // A new worker on the same cache, after someone poisoned it.
  cluster.kill_worker(0);
  write_text(file, read_text(module_path("evil_factorial")));
  ChildProcess& fresh = cluster.add_worker(1);
  expect_factorial_of_5_is_120(cluster, 2);
  EXPECT_TRUE(contains(fresh.read_stderr(), "does not match its hash")) << fresh.read_stderr();
}

TEST(CachePoisoning, ASandboxedTaskCannotReachTheCache) {
  TestCluster cluster({.workers = 1, .slots = 2});
  expect_factorial_of_5_is_120(cluster, 1);
  const std::string file = cached_file(cluster, module_path("factorial")).string();
  nlohmann::json done = hostile(cluster, "poison_cache",
                                {quoted(file), quoted(module_path("evil_factorial")), "true"});
  EXPECT_TRUE(contains(text_of(done), "error: ")) << done;
  // Nor can it kill its siblings to make them load it again.
  EXPECT_EQ(hostile(cluster, "kill_siblings"), 0);
  expect_factorial_of_5_is_120(cluster, 3);
  EXPECT_EQ(ModuleHash::of(read_text(file)), ModuleHash::of(read_text(module_path("factorial"))));
}

}  // namespace
}  // namespace uni::test
