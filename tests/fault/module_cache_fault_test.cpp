// A worker whose module cache cannot be written is no black hole: it does
// not start when the cache is unusable from the outset, and when the cache
// breaks later (its directory gone, or a full disk) the tasks it cannot run
// go back to the queue with no attempt spent and run on another worker,
// while it takes itself out of service and says why in `uni status`.
#include <filesystem>
#include <fstream>

#include "fault_support.hpp"

namespace uni::test {
namespace {

namespace fs = std::filesystem;

// A directory this process cannot write to, even as root: created, then
// given a regular file as its only way in (the cache is a path below it).
std::string unwritable_cache(TestCluster& cluster) {
  fs::path blocker = cluster.dir().write("not-a-directory", "x");
  return (blocker / "modules").string();
}

TEST(ModuleCacheFault, AWorkerWhoseCacheCannotBeWrittenDoesNotStart) {
  TestCluster cluster({.workers = 0});
  ChildProcess& worker = cluster.add_worker(1, {"--cache-dir", unwritable_cache(cluster)}, false);
  auto status = worker.wait_for(20s);
  ASSERT_TRUE(status.has_value()) << "the worker started with a cache it cannot write";
  EXPECT_EQ(status->code, 2) << worker.read_stderr();
  EXPECT_TRUE(contains(worker.read_stderr(), "module cache")) << worker.read_stderr();
  EXPECT_TRUE(contains(worker.read_stderr(), "--cache-dir")) << worker.read_stderr();

  // An existing directory where no file can be created, even by root.
  ChildProcess& proc = cluster.add_worker(1, {"--cache-dir", "/proc/self"}, false);
  auto refused = proc.wait_for(20s);
  ASSERT_TRUE(refused.has_value()) << "the worker started with a cache it cannot write";
  EXPECT_EQ(refused->code, 2) << proc.read_stderr();
}

TEST(ModuleCacheFault, ACacheThatBreaksLaterFailsNoTaskAndTakesItsWorkerOut) {
  TestCluster cluster({.workers = 0});
  const fs::path broken_dir = cluster.dir().path() / "broken-cache";
  ChildProcess& broken = cluster.add_worker(2, {"--cache-dir", broken_dir.string()});
  // The directory goes away under the running worker, and a file takes its
  // place: every module it stores from now on fails, as on a full disk.
  fs::rename(broken_dir, cluster.dir().path() / "broken-cache.gone");
  std::ofstream(broken_dir) << "x";

  // Alone, it takes the tasks and gives them back: nothing fails.
  CommandResult first = cluster.uni({"submit", module_path("testfns"), "add", "1", "2"});
  ASSERT_EQ(first.exit_code, 0) << first.describe();
  ASSERT_TRUE(wait_status(cluster,
                          [](const nlohmann::json& s) {
                            return s["workers"].size() == 1 &&
                                   s["workers"][0].value("note", "") != "";
                          }))
      << cluster.status().dump() << "\n"
      << broken.read_stderr();
  nlohmann::json s = cluster.status();
  EXPECT_TRUE(contains(s["workers"][0]["note"].get<std::string>(), "module cache")) << s.dump();
  EXPECT_EQ(s["workers"][0]["capacity"], 0) << s.dump();
  EXPECT_EQ(s["totals"]["failed"], 0) << s.dump();
  CommandResult text = cluster.uni({"status"});
  EXPECT_TRUE(contains(text.out, "takes no tasks")) << text.describe();

  // A healthy worker joins: the waiting task and new ones all run there.
  ChildProcess& healthy = cluster.add_worker(2);
  CommandResult kept =
      cluster.uni({"result", first.lines().at(0), "--wait", "60"}, {.timeout = 90s});
  EXPECT_EQ(kept.exit_code, 0) << kept.describe();
  EXPECT_EQ(kept.out, "3\n") << kept.describe();
  std::string lines;
  for (int i = 0; i < 40; ++i) lines += "[" + std::to_string(i) + ", 1]\n";
  std::string input = cluster.dir().write("in.jsonl", lines).string();
  CommandResult map =
      cluster.uni({"map", module_path("testfns"), "add", "--input", input}, {.timeout = 90s});
  EXPECT_EQ(map.exit_code, 0) << map.describe();
  ASSERT_EQ(map.lines().size(), 40u) << map.describe();
  for (int i = 0; i < 40; ++i) EXPECT_EQ(map.lines()[i], std::to_string(i + 1));
  s = cluster.status();
  EXPECT_EQ(s["totals"]["failed"], 0) << s.dump();
  EXPECT_TRUE(process_alive(healthy.pid()));
}

}  // namespace
}  // namespace uni::test
