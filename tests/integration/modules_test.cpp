// Modules on the worker: a module with its own system dependency (zlib), live
// patching (two builds of one module, side by side, without restarting the
// worker), the worker's on-disk module cache and its LRU eviction, and task
// output in the worker's log.
#include <gtest/gtest.h>
#include <sodium.h>
#include <zlib.h>

#include <set>
#include <thread>

#include "common/hash.hpp"
#include "test_cluster.hpp"

namespace uni::test {
namespace {

using namespace std::chrono_literals;

std::uint32_t local_crc(const std::string& s) {
  return static_cast<std::uint32_t>(
      ::crc32(0L, reinterpret_cast<const Bytef*>(s.data()), static_cast<uInt>(s.size())));
}

template <class R>
R get_within(const Future<R>& f, std::chrono::seconds limit = 30s) {
  if (!f.wait_for(limit)) throw std::runtime_error("task did not finish in time");
  return f.get();
}

TEST(ZlibModule, LoadsWithItsDependencyAndComputes) {
  TestCluster cluster;
  uni::Cluster boss = cluster.connect();
  const std::string m = module_path("zlibmod");
  std::string text = "The quick brown fox jumps over the lazy dog";
  EXPECT_EQ(get_within(boss.function<std::uint32_t(std::string)>(m, "crc")(text)), local_crc(text));
  EXPECT_EQ(get_within(boss.function<std::string()>(m, "library_version")()), ::zlibVersion());
  std::string big;
  for (int i = 0; i < 5000; ++i) big += "line " + std::to_string(i % 7) + " of repetitive text\n";
  auto [back, packed] = get_within(
      boss.function<std::pair<std::string, std::uint64_t>(std::string)>(m, "roundtrip")(big));
  EXPECT_EQ(back, big);
  EXPECT_LT(packed, big.size());

  CommandResult r = cluster.uni({"run", m, "crc", "hello"});
  EXPECT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_EQ(r.out, std::to_string(local_crc("hello")) + "\n") << r.describe();
}

// ---- live patching ----------------------------------------------------------------

struct Call {
  int value;
  WorkerInfo worker;
};

template <class Fn>
Call call(const Fn& fn) {
  auto f = fn();
  int v = get_within(f);
  return {v, f.worker()};
}

// v1 -> v2 -> v1 -> v2 on a worker with one slot: results follow the build
// called, each build keeps its own statics, and neither the worker nor its
// executor is restarted.
void live_patch_alternates(bool thread_isolation) {
  std::vector<std::string> args;
  if (thread_isolation) args = {"--isolation", "thread"};
  TestCluster cluster({.workers = 1, .slots = 1, .worker_args = args});
  ChildProcess& worker = cluster.worker(0);
  nlohmann::json before = cluster.worker_status(worker.pid());
  ASSERT_TRUE(before.is_object());

  uni::Cluster boss = cluster.connect();
  const std::string v1 = module_path("patch_v1"), v2 = module_path("patch_v2");
  auto version1 = boss.function<int()>(v1, "version"),
       version2 = boss.function<int()>(v2, "version");
  auto bump1 = boss.function<int()>(v1, "bump"), bump2 = boss.function<int()>(v2, "bump");

  std::set<std::uint32_t> executor_pids;
  auto check = [&](const Call& c, int expected, const char* what) {
    EXPECT_EQ(c.value, expected) << what;
    EXPECT_EQ(c.worker.id, before.value("id", "")) << what;
    executor_pids.insert(c.worker.pid);
  };
  check(call(version1), 1, "v1 version");
  check(call(bump1), 1, "v1 first bump");
  check(call(version2), 2, "v2 version");
  check(call(bump2), 1, "v2 first bump: its counter is not v1's");
  check(call(version1), 1, "v1 again");
  check(call(bump1), 2, "v1 second bump: v1 kept its state");
  check(call(version2), 2, "v2 again");
  check(call(bump2), 2, "v2 second bump");

  EXPECT_EQ(executor_pids.size(), 1u) << "the executor was replaced during patching";
  if (thread_isolation) {
    EXPECT_EQ(*executor_pids.begin(), static_cast<std::uint32_t>(worker.pid()));
  } else {
    EXPECT_NE(*executor_pids.begin(), static_cast<std::uint32_t>(worker.pid()));
    EXPECT_EQ(parent_pid(static_cast<pid_t>(*executor_pids.begin())), worker.pid());
  }
  EXPECT_TRUE(worker.running()) << "the worker ended: " << worker.read_stderr();
  nlohmann::json after = cluster.worker_status(worker.pid());
  ASSERT_TRUE(after.is_object()) << "the worker is no longer listed";
  EXPECT_EQ(after.value("id", ""), before.value("id", "?")) << "the worker reconnected as another";
  EXPECT_EQ(cluster.status()["workers"].size(), 1u);
}

TEST(LivePatch, TwoBuildsAlternateWithoutRestartingWorkerOrExecutor) {
  live_patch_alternates(false);
}

TEST(LivePatch, TwoBuildsAlternateUnderThreadIsolation) { live_patch_alternates(true); }

// Replace the file at one path (as a deploy would): each call runs what the
// file holds at that moment.
TEST(LivePatch, ReplacingTheModuleFileAtOnePathSwitchesBuilds) {
  TestCluster cluster({.workers = 1, .slots = 1});
  ChildProcess& worker = cluster.worker(0);
  const std::string v1 = read_text(module_path("patch_v1")),
                    v2 = read_text(module_path("patch_v2"));
  ASSERT_FALSE(v1.empty());
  ASSERT_NE(v1, v2);
  std::filesystem::path live = cluster.dir() / "deploy" / "libpatch.so";
  auto deploy = [&](const std::string& bytes) {
    // Write beside it and rename: a new file, as an installer does.
    std::filesystem::path tmp = cluster.dir().write("deploy/.libpatch.so.new", bytes);
    std::filesystem::rename(tmp, live);
  };
  uni::Cluster boss = cluster.connect();
  std::set<std::uint32_t> executor_pids;
  int round = 0;
  for (const std::string* bytes : {&v1, &v2, &v1, &v2}) {
    deploy(*bytes);
    std::string expected = std::string(bytes == &v1 ? "v1" : "v2") + ":" + std::to_string(round);
    CommandResult r = cluster.uni({"run", live.string(), "describe", std::to_string(round)});
    EXPECT_EQ(r.exit_code, 0) << r.describe();
    EXPECT_EQ(r.out, "\"" + expected + "\"\n") << r.describe();
    auto f = boss.function<std::string(int)>(live.string(), "describe")(round);
    EXPECT_EQ(get_within(f), expected) << "C++ API, round " << round;
    executor_pids.insert(f.worker().pid);
    ++round;
  }
  EXPECT_EQ(executor_pids.size(), 1u);
  EXPECT_TRUE(worker.running());
  EXPECT_TRUE(cluster.worker_status(worker.pid()).is_object());
}

// ---- the worker's module cache -----------------------------------------------------

std::string hash_of_file(const std::string& path) {
  if (sodium_init() < 0) throw std::runtime_error("sodium_init failed");
  return ModuleHash::of(read_text(path)).hex();
}

std::set<std::string> cached_files(const std::filesystem::path& dir) {
  std::set<std::string> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec))
    if (e.path().extension() == ".so") out.insert(e.path().filename().string());
  return out;
}

TEST(ModuleCache, ModulesAreCachedUnderTheirHash) {
  TestCluster cluster;
  CommandResult r = cluster.uni({"run", module_path("testfns"), "add", "1", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  std::string name = hash_of_file(module_path("testfns")) + ".so";
  std::filesystem::path cached = cluster.module_cache_dir() / name;
  ASSERT_TRUE(std::filesystem::exists(cached))
      << "expected " << cached << "; the cache holds "
      << cached_files(cluster.module_cache_dir()).size() << " files";
  EXPECT_EQ(read_text(cached), read_text(module_path("testfns")));
  // Nothing was written to the real ~/.cache: the cluster's XDG_CACHE_HOME holds it.
  EXPECT_EQ(cached_files(cluster.module_cache_dir()).size(), 1u);
}

TEST(ModuleCache, SmallCacheEvictsTheLeastRecentlyUsedModule) {
  std::uintmax_t s1 = std::filesystem::file_size(module_path("bulk1"));
  std::uintmax_t s2 = std::filesystem::file_size(module_path("bulk2"));
  std::uintmax_t s3 = std::filesystem::file_size(module_path("bulk3"));
  // Room for two of them, not three.
  std::uintmax_t limit = s1 + s2 + s3 / 2;
  TestCluster cluster(
      {.workers = 1, .slots = 1, .worker_args = {"--cache-size", std::to_string(limit)}});
  const std::filesystem::path dir = cluster.module_cache_dir();
  auto run = [&](const std::string& m, int expected) {
    CommandResult r = cluster.uni({"run", module_path(m), "bulk_id"});
    EXPECT_EQ(r.exit_code, 0) << r.describe();
    EXPECT_EQ(r.out, std::to_string(expected) + "\n") << r.describe();
  };
  const std::string h1 = hash_of_file(module_path("bulk1")) + ".so";
  const std::string h2 = hash_of_file(module_path("bulk2")) + ".so";
  const std::string h3 = hash_of_file(module_path("bulk3")) + ".so";
  run("bulk1", 1);
  run("bulk2", 2);
  EXPECT_EQ(cached_files(dir), (std::set<std::string>{h1, h2}));
  run("bulk1", 1);  // bulk1 is now the most recently used
  run("bulk3", 3);  // over the limit: bulk2 goes
  EXPECT_EQ(cached_files(dir), (std::set<std::string>{h1, h3}))
      << "bulk1=" << h1 << " bulk2=" << h2 << " bulk3=" << h3;
  // An evicted module is fetched again when needed.
  run("bulk2", 2);
  EXPECT_TRUE(cached_files(dir).count(h2));
  EXPECT_EQ(cached_files(dir).size(), 2u);
}

// ---- task output -----------------------------------------------------------------

TEST(TaskOutput, LinesAppearInTheWorkerLogPrefixedWithTheTaskId) {
  TestCluster cluster({.workers = 1, .slots = 1});
  uni::Cluster boss = cluster.connect();
  auto chatter = boss.function<int(std::string, int)>(module_path("testfns"), "chatter");
  Future<int> f = chatter("tagged-output", 3);
  EXPECT_EQ(get_within(f), 3);
  const std::string id = f.id();
  ASSERT_FALSE(id.empty());
  ChildProcess& worker = cluster.worker(0);
  for (int i = 0; i < 3; ++i) {
    std::string out_line = "[" + id + "] tagged-output out " + std::to_string(i) + "\n";
    std::string err_line = "[" + id + "] tagged-output err " + std::to_string(i) + "\n";
    EXPECT_TRUE(worker.wait_for_stdout(out_line, 5s))
        << "missing in the worker's stdout: " << out_line << "stdout:\n"
        << worker.read_stdout();
    EXPECT_TRUE(worker.wait_for_stderr(err_line, 5s))
        << "missing in the worker's stderr: " << err_line << "stderr:\n"
        << worker.read_stderr();
  }
  // A second task's lines carry its own id.
  Future<int> g = chatter("second-task", 1);
  EXPECT_EQ(get_within(g), 1);
  EXPECT_NE(g.id(), id);
  EXPECT_TRUE(worker.wait_for_stdout("[" + g.id() + "] second-task out 0\n", 5s))
      << worker.read_stdout();
}

}  // namespace
}  // namespace uni::test
