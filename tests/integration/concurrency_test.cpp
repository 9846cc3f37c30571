// Several bosses at once: each gets exactly its own results — nothing
// missing, nothing duplicated, nothing of the other boss's.
#include <gtest/gtest.h>

#include <latch>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "test_cluster.hpp"

namespace uni::test {
namespace {

using namespace std::chrono_literals;

constexpr int kTasksPerBoss = 1000;

// Submits kTasksPerBoss ident(base + i) at once; checks every result.
void run_boss(uni::Cluster& boss, std::int64_t base, std::latch& start, std::string& failure) {
  try {
    auto ident = boss.function<std::int64_t(std::int64_t)>(module_path("testfns"), "ident");
    start.arrive_and_wait();
    std::vector<Future<std::int64_t>> futures;
    futures.reserve(kTasksPerBoss);
    for (int i = 0; i < kTasksPerBoss; ++i) futures.push_back(ident(base + i));
    std::set<std::int64_t> seen;
    // One deadline for all results, well inside the test's CTest timeout.
    auto deadline = std::chrono::steady_clock::now() + 60s;
    for (int i = 0; i < kTasksPerBoss; ++i) {
      if (!futures[i].wait_for(deadline - std::chrono::steady_clock::now())) {
        failure =
            "task " + std::to_string(i) + " of boss " + std::to_string(base) + " never finished";
        return;
      }
      std::int64_t v = futures[i].get();
      if (v != base + i) {
        failure = "boss " + std::to_string(base) + " task " + std::to_string(i) + " got " +
                  std::to_string(v);
        return;
      }
      seen.insert(v);
    }
    if (seen.size() != kTasksPerBoss)
      failure = "duplicate results for boss " + std::to_string(base);
  } catch (const std::exception& e) {
    failure = std::string("boss ") + std::to_string(base) + ": " + e.what();
  }
}

TEST(Concurrency, TwoBossesInThreadsGetExactlyTheirOwnThousandResults) {
  TestCluster cluster({.workers = 2, .slots = 2});
  // Connect on this thread: connect() sets this process's UNI_CONFIG_DIR.
  uni::Cluster a = cluster.connect();
  uni::Cluster b = cluster.connect();
  std::latch start(2);
  std::string fail_a, fail_b;
  std::thread ta([&] { run_boss(a, 1'000'000, start, fail_a); });
  std::thread tb([&] { run_boss(b, 2'000'000, start, fail_b); });
  ta.join();
  tb.join();
  EXPECT_EQ(fail_a, "");
  EXPECT_EQ(fail_b, "");
}

TEST(Concurrency, TwoBossProcessesMapAtOnceAndEachGetsItsOwnLinesInOrder) {
  TestCluster cluster({.workers = 2, .slots = 2});
  std::ostringstream in_a, in_b;
  for (int i = 0; i < kTasksPerBoss; ++i) {
    in_a << "[" << 3'000'000 + i << "]\n";
    in_b << "[" << 4'000'000 + i << "]\n";
  }
  auto start_map = [&](const std::string& name, const std::string& input) {
    std::filesystem::path file = cluster.dir().write(name + ".jsonl", input);
    return cluster.start(
        name, {uni_binary(), "map", "--input", file.string(), module_path("testfns"), "ident"});
  };
  ChildProcess a = start_map("map-a", in_a.str());
  ChildProcess b = start_map("map-b", in_b.str());
  // One deadline for both, well inside the test's CTest timeout.
  auto deadline = std::chrono::steady_clock::now() + 60s;
  auto left = [&] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(deadline -
                                                                 std::chrono::steady_clock::now());
  };
  auto sa = a.wait_for(left());
  auto sb = b.wait_for(left());
  ASSERT_TRUE(sa && sb) << "uni map did not finish\nA: " << a.read_stderr()
                        << "\nB: " << b.read_stderr();
  EXPECT_EQ(sa->code, 0) << a.read_stderr();
  EXPECT_EQ(sb->code, 0) << b.read_stderr();
  std::vector<std::string> la = split_lines(a.read_stdout()), lb = split_lines(b.read_stdout());
  ASSERT_EQ(la.size(), static_cast<std::size_t>(kTasksPerBoss));
  ASSERT_EQ(lb.size(), static_cast<std::size_t>(kTasksPerBoss));
  for (int i = 0; i < kTasksPerBoss; ++i) {
    ASSERT_EQ(la[i], std::to_string(3'000'000 + i)) << "line " << i;
    ASSERT_EQ(lb[i], std::to_string(4'000'000 + i)) << "line " << i;
  }
}

// A worker that learnt to prefetch deeply from short tasks gives back what it
// holds once tasks turn out long, so that a worker joining later shares them.
TEST(Concurrency, PrefetchedLongTasksAreSharedWithAWorkerThatJoinsLater) {
  TestCluster cluster({.workers = 1, .slots = 1});
  uni::Cluster boss = cluster.connect();
  auto ident = boss.function<std::int64_t(std::int64_t)>(module_path("testfns"), "ident");
  std::vector<Future<std::int64_t>> warm;
  for (int i = 0; i < 500; ++i) warm.push_back(ident(i));
  for (auto& f : warm) ASSERT_EQ(f.get(), &f - warm.data());

  auto nap = boss.function<int(int)>(module_path("testfns"), "sleep_ms");
  std::vector<Future<int>> naps;
  for (int i = 0; i < 8; ++i) naps.push_back(nap(400));
  ChildProcess& late = cluster.add_worker(1);
  std::map<std::string, int> per_worker;
  for (auto& f : naps) {
    ASSERT_TRUE(f.wait_for(60s));
    EXPECT_EQ(f.get(), 400);
    ++per_worker[f.worker().id];
  }
  EXPECT_EQ(per_worker.size(), 2u) << "the worker that joined later ran none of the tasks";
  for (const auto& [id, n] : per_worker) EXPECT_GE(n, 2) << "worker " << id << " ran only " << n;
  (void)late;
}

}  // namespace
}  // namespace uni::test
