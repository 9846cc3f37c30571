// `uni submit` / `uni result` and uni::submit_detached / uni::detached_result
// on the built-in manager, with real processes (docs/reliability.md §4.19):
// a task handed over by a boss that then exits — or is killed — has its
// result read later by another process, through the CLI and the C++ API,
// with `uni run`'s exit codes; --wait returns when the task ends, and exit 4
// when it does not within the wait; a worker killed mid-task reruns it and
// the result is still kept; an unknown id, a manager restarted since, an
// evicted or expired result and a malformed id each get a clear message.
#include <gtest/gtest.h>

#include <thread>

#include <uni/detached.hpp>

#include "test_cluster.hpp"

namespace uni::test {
namespace {

using namespace std::chrono_literals;

// `uni submit ARGS...`: the id it printed (the test fails if it did not).
std::string submit(TestCluster& cluster, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"submit"};
  argv.insert(argv.end(), args.begin(), args.end());
  CommandResult r = cluster.uni(argv);
  EXPECT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_EQ(r.lines().size(), 1u) << r.describe();
  return r.lines().empty() ? std::string() : r.lines()[0];
}

CommandResult result(TestCluster& cluster, const std::string& id, const std::string& wait = "") {
  std::vector<std::string> argv = {"result", id};
  if (!wait.empty()) argv.insert(argv.end(), {"--wait", wait});
  return cluster.uni(argv, {.timeout = 90s});
}

// The API as a boss in this process calls it, with the cluster's authkey.
ConnectOptions connection(TestCluster& cluster) {
  ::setenv("UNI_CONFIG_DIR", cluster.config_dir().c_str(), 1);
  ConnectOptions options;
  options.authkey = cluster.authkey();
  return options;
}

// Polls `uni status --json` until a worker is busy.
bool wait_until_busy(TestCluster& cluster) {
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (std::chrono::steady_clock::now() < deadline) {
    nlohmann::json s = cluster.status();
    if (s.is_object() && s.value("running", 0) > 0) return true;
    std::this_thread::sleep_for(100ms);
  }
  return false;
}

TEST(KeptResults, SubmitExitsAndALaterResultPrintsTheResult) {
  TestCluster cluster({.workers = 1});
  const std::string id = submit(cluster, {module_path("testfns"), "add", "20", "22"});
  ASSERT_FALSE(id.empty());
  CommandResult r = result(cluster, id, "60");
  EXPECT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_EQ(r.out, "42\n") << r.describe();
  // Reading does not remove it.
  CommandResult again = result(cluster, id);
  EXPECT_EQ(again.exit_code, 0) << again.describe();
  EXPECT_EQ(again.out, "42\n") << again.describe();
  EXPECT_EQ(cluster.status()["totals"]["kept_results"], 1) << cluster.status().dump();
  // The text view says it too, as /metrics does (uni_kept_results).
  CommandResult text = cluster.uni({"status"});
  EXPECT_TRUE(contains(text.out, "1 result(s) kept for uni result")) << text.describe();
}

TEST(KeptResults, TheCppApiSubmitsAndReadsTheResultLater) {
  TestCluster cluster({.workers = 1});
  const ConnectOptions options = connection(cluster);
  std::string id = submit_detached(cluster.address(), module_path("testfns"), "add",
                                   detail::pack_arguments<int, int>(40, 2), {}, options);
  // Another "process": a fresh connection, a fresh session.
  std::optional<DetachedResult> r = detached_result(cluster.address(), id, 60s, options);
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(r->ok);
  EXPECT_EQ(r->status, "ok");
  EXPECT_EQ(r->value, std::string("\x2a", 1));  // msgpack 42
  EXPECT_FALSE(r->worker.empty());
  EXPECT_EQ(r->host, host_name());
  EXPECT_EQ(r->attempt, 1);
  // Ids are unique across calls: each call is a session of its own.
  std::string other = submit_detached(cluster.address(), module_path("testfns"), "add",
                                      detail::pack_arguments<int, int>(1, 2), {}, options);
  EXPECT_NE(other, id);
  EXPECT_NE(other.substr(0, 16), id.substr(0, 16));
}

TEST(KeptResults, AFailingTaskExitsAsUniRunWould) {
  TestCluster cluster({.workers = 1});
  const std::string id = submit(cluster, {module_path("testfns"), "fail", "\"late\""});
  CommandResult r = result(cluster, id, "60");
  CommandResult run = cluster.uni({"run", module_path("testfns"), "fail", "\"late\""});
  EXPECT_EQ(run.exit_code, 1) << run.describe();
  EXPECT_EQ(r.exit_code, run.exit_code) << r.describe();
  EXPECT_TRUE(contains(r.err, "exception")) << r.describe();
  EXPECT_TRUE(contains(r.err, "late")) << r.describe();
  EXPECT_TRUE(r.out.empty()) << r.describe();
}

TEST(KeptResults, WaitReturnsWhenTheRunningTaskFinishes) {
  TestCluster cluster({.workers = 1});
  const std::string id = submit(cluster, {module_path("testfns"), "sleep_ms", "3000"});
  ASSERT_TRUE(wait_until_busy(cluster));
  // Far longer than the command may take (90 s): it returns with the task.
  CommandResult r = result(cluster, id, "3600");
  EXPECT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_EQ(r.out, "3000\n") << r.describe();
}

TEST(KeptResults, NoResultWithinTheWaitExitsFour) {
  TestCluster cluster({.workers = 0});
  const std::string id = submit(cluster, {module_path("testfns"), "add", "1", "2"});
  CommandResult now = result(cluster, id);
  EXPECT_EQ(now.exit_code, 4) << now.describe();
  EXPECT_TRUE(contains(now.err, "no result yet")) << now.describe();
  CommandResult waited = result(cluster, id, "0.5");
  EXPECT_EQ(waited.exit_code, 4) << waited.describe();
  // Once a worker joins, it runs.
  cluster.add_worker(1);
  CommandResult done = result(cluster, id, "60");
  EXPECT_EQ(done.exit_code, 0) << done.describe();
  EXPECT_EQ(done.out, "3\n") << done.describe();
}

TEST(KeptResults, TheResultArrivesAfterItsBossIsKilled) {
  TestCluster cluster({.workers = 0});
  ChildProcess boss = cluster.start(
      "submit_and_stay",
      {bin_path("submit_and_stay"), cluster.address(), module_path("testfns"), "sleep_ms", "200"});
  std::string id;
  for (auto deadline = std::chrono::steady_clock::now() + 30s;
       id.empty() && std::chrono::steady_clock::now() < deadline;
       std::this_thread::sleep_for(50ms)) {
    std::vector<std::string> lines = split_lines(boss.read_stdout());
    if (!lines.empty()) id = lines[0];
    ASSERT_FALSE(boss.status().has_value()) << boss.read_stderr();
  }
  ASSERT_FALSE(id.empty()) << boss.read_stderr();
  boss.kill(SIGKILL);
  boss.wait_for(10s);
  cluster.add_worker(1);  // the task runs only now, its boss long gone
  CommandResult r = result(cluster, id, "60");
  EXPECT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_EQ(r.out, "200\n") << r.describe();
}

TEST(KeptResults, AWorkerKilledMidTaskRerunsItAndTheResultIsKept) {
  TestCluster cluster({.workers = 1, .slots = 1});
  const ConnectOptions options = connection(cluster);
  std::string id = submit_detached(cluster.address(), module_path("testfns"), "sleep_ms",
                                   detail::pack_arguments<int>(2000), {}, options);
  ASSERT_TRUE(wait_until_busy(cluster));
  const std::string first = cluster.status()["workers"][0].value("id", "");
  cluster.kill_worker(0, SIGKILL);
  cluster.add_worker(1);
  std::optional<DetachedResult> r = detached_result(cluster.address(), id, 60s, options);
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(r->ok) << r->value;
  EXPECT_EQ(r->attempt, 2);
  EXPECT_NE(r->worker, first);
}

TEST(KeptResults, AnUnknownIdSaysTheManagerKeepsResultsOnlyWhileItRuns) {
  TestCluster cluster({.workers = 0});
  CommandResult r = result(cluster, "0123456789abcdef-1", "5");
  EXPECT_EQ(r.exit_code, 4) << r.describe();
  EXPECT_TRUE(contains(r.err, "does not know task 0123456789abcdef-1")) << r.describe();
  EXPECT_TRUE(contains(r.err, "keeps results only while it runs")) << r.describe();
  EXPECT_TRUE(contains(r.err, "running since")) << r.describe();
  // The API says the same, as an exception of its own.
  EXPECT_THROW(detached_result(cluster.address(), "0123456789abcdef-1", 0ms, connection(cluster)),
               UnknownTaskError);
}

TEST(KeptResults, AfterAManagerRestartAResultIsGoneAndTheMessageSaysWhy) {
  TestCluster cluster({.workers = 1});
  const std::string id = submit(cluster, {module_path("testfns"), "add", "2", "3"});
  ASSERT_EQ(result(cluster, id, "60").out, "5\n");
  cluster.stop_manager();
  cluster.restart_manager();
  CommandResult r = result(cluster, id);
  EXPECT_EQ(r.exit_code, 4) << r.describe();
  EXPECT_TRUE(contains(r.err, "keeps results only while it runs")) << r.describe();
  EXPECT_TRUE(contains(r.err, "before it (re)started")) << r.describe();
}

TEST(KeptResults, PastTheConfiguredBoundTheOldestResultIsEvicted) {
  TestCluster cluster({.workers = 1, .manager_args = {"--max-kept-results", "2"}});
  std::vector<std::string> ids;
  for (int i = 1; i <= 3; ++i) {
    ids.push_back(submit(cluster, {module_path("testfns"), "add", std::to_string(i), "0"}));
    ASSERT_EQ(result(cluster, ids.back(), "60").exit_code, 0);
  }
  CommandResult first = result(cluster, ids[0]);
  EXPECT_EQ(first.exit_code, 4) << first.describe();
  EXPECT_TRUE(contains(first.err, "evicted")) << first.describe();
  EXPECT_TRUE(contains(first.err, "--max-kept-results")) << first.describe();
  EXPECT_EQ(result(cluster, ids[2]).out, "3\n");
  EXPECT_EQ(cluster.status()["totals"]["kept_results"], 2);
  EXPECT_TRUE(contains(cluster.manager().read_stderr(), "evicted 1 kept result"))
      << cluster.manager().read_stderr();
}

TEST(KeptResults, AResultExpiresAfterTheConfiguredTime) {
  TestCluster cluster({.workers = 1, .manager_args = {"--keep-results-for", "1"}});
  const std::string id = submit(cluster, {module_path("testfns"), "add", "2", "3"});
  ASSERT_EQ(result(cluster, id, "60").exit_code, 0);
  CommandResult r;
  for (auto deadline = std::chrono::steady_clock::now() + 30s;
       std::chrono::steady_clock::now() < deadline; std::this_thread::sleep_for(200ms)) {
    r = result(cluster, id);
    if (r.exit_code != 0) break;
  }
  EXPECT_EQ(r.exit_code, 4) << r.describe();
  EXPECT_TRUE(contains(r.err, "expired")) << r.describe();
  EXPECT_TRUE(contains(r.err, "--keep-results-for")) << r.describe();
}

TEST(KeptResults, AMalformedIdIsAUsageError) {
  TestCluster cluster({.workers = 0});
  CommandResult r = result(cluster, "not-an-id");
  EXPECT_EQ(r.exit_code, 2) << r.describe();
  EXPECT_TRUE(contains(r.err, "'not-an-id' is not a task id")) << r.describe();
}

}  // namespace
}  // namespace uni::test
