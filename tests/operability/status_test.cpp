// `uni status` with what issue 10 adds: per worker the tasks it completed
// and failed, its last heartbeat's age and its uptime; per service its
// uptime; tasks/s over the last 10 s; recent failures with their errors;
// cancelled tasks counted. `--json` carries the same, the text shows it, and
// `--watch` redraws in place on a terminal until Ctrl-C.
#include <gtest/gtest.h>

#include <csignal>

#include "operability_support.hpp"
#include "pty_process.hpp"

namespace uni::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

TEST(StatusFields, WorkersCountWhatTheyRanAndFailuresAreListedWithTheirErrors) {
  TestCluster cluster({.workers = 2, .slots = 1});
  std::vector<std::string> lines(12, "[7]");
  CommandResult map = cluster.uni(
      {"map", module_path("testfns"), "ident", "--input", write_input(cluster, "in.jsonl", lines)});
  ASSERT_EQ(map.exit_code, 0) << map.describe();
  CommandResult fail = cluster.uni({"run", module_path("testfns"), "fail", "x"});
  ASSERT_EQ(fail.exit_code, 1) << fail.describe();

  json s = cluster.status();
  ASSERT_TRUE(s.is_object());
  std::uint64_t completed = 0, failed = 0;
  for (const json& w : s["workers"]) {
    completed += w.value("completed", 0);
    failed += w.value("failed", 0);
    // Heartbeats come every second; past the 3 s timeout it would be dead.
    EXPECT_LT(w.value("heartbeat_age_ms", 99999), 3000) << w.dump();
    EXPECT_GT(w.value("uptime_ms", 0), 0) << w.dump();
  }
  EXPECT_EQ(completed, 12u) << s.dump();
  EXPECT_EQ(failed, 1u) << s.dump();
  // The 13 tasks ended within the last 10 s.
  EXPECT_GT(s.value("tasks_per_s", 0.0), 0.0) << s.dump();
  EXPECT_GT(s.value("uptime_ms", 0), 0) << s.dump();
  ASSERT_EQ(s["recent_failures"].size(), 1u) << s.dump();
  const json& f = s["recent_failures"][0];
  EXPECT_EQ(f.value("function", ""), "fail") << f.dump();
  EXPECT_EQ(f.value("status", ""), "exception") << f.dump();
  EXPECT_TRUE(contains(f.value("error", ""), "boom: x")) << f.dump();
  bool on_a_worker = false;
  for (const json& w : s["workers"]) on_a_worker |= w.value("id", "") == f.value("worker", "?");
  EXPECT_TRUE(on_a_worker) << s.dump();

  // The worker's uptime grows; the text shows the new columns and lines.
  std::this_thread::sleep_for(300ms);
  json later = cluster.status();
  EXPECT_GT(later["workers"][0].value("uptime_ms", 0), s["workers"][0].value("uptime_ms", 0));
  CommandResult text = cluster.uni({"status"});
  ASSERT_EQ(text.exit_code, 0) << text.describe();
  EXPECT_TRUE(contains(text.out, "DONE")) << text.out;
  EXPECT_TRUE(contains(text.out, "HEARTBEAT")) << text.out;
  EXPECT_TRUE(contains(text.out, "/s over the last 10 s; 13 submitted, 12 completed, 1 failed"))
      << text.out;
  EXPECT_TRUE(contains(text.out, "recent failures")) << text.out;
  EXPECT_TRUE(contains(text.out, "boom: x")) << text.out;
}

TEST(StatusFields, AServiceShowsItsWorkerAndUptimeAndStoppingItCountsAsCancelled) {
  TestCluster cluster({.workers = 1, .slots = 2});
  CommandResult spawn = cluster.uni({"spawn", module_path("testfns"), "sleep_ms", "60000"});
  ASSERT_EQ(spawn.exit_code, 0) << spawn.describe();
  std::string id = spawn.lines().at(0);
  std::function<json()> get = [&] { return cluster.status(); };
  json s =
      poll_until(get, std::function<bool(const json&)>([](const json& j) {
                   return j["services"].size() == 1 && j["services"][0].value("uptime_ms", 0) > 0;
                 }));
  ASSERT_EQ(s["services"].size(), 1u) << s.dump();
  EXPECT_EQ(s["services"][0].value("id", ""), id);
  EXPECT_EQ(s["services"][0].value("worker", ""), s["workers"][0].value("id", "?"));
  EXPECT_GT(s["services"][0].value("uptime_ms", 0), 0) << s.dump();
  CommandResult text = cluster.uni({"status"});
  EXPECT_TRUE(contains(text.out, "UPTIME")) << text.out;

  CommandResult stop = cluster.uni({"stop", id});
  ASSERT_EQ(stop.exit_code, 0) << stop.describe();
  s = poll_until(get, std::function<bool(const json&)>(
                          [](const json& j) { return j["totals"].value("cancelled", 0) == 1; }));
  EXPECT_EQ(s["totals"].value("cancelled", 0), 1) << s.dump();
  EXPECT_TRUE(s["services"].empty()) << s.dump();
  // A deliberate stop is no failure: not in the totals, the worker's FAILED
  // column or the recent failures (a Ctrl-C'd map pushed every real error out).
  EXPECT_EQ(s["totals"].value("failed", -1), 0) << s.dump();
  EXPECT_EQ(s["workers"][0].value("failed", -1), 0) << s.dump();
  EXPECT_TRUE(s["recent_failures"].empty()) << s.dump();
  CommandResult after = cluster.uni({"status"});
  EXPECT_TRUE(contains(after.out, "0 failed, 1 cancelled")) << after.out;
  // `uni status` is the only boss connected, and does not count itself.
  EXPECT_TRUE(contains(after.out, "0 boss(es) connected")) << after.out;
  EXPECT_EQ(s.value("bosses", -1), 0) << s.dump();
}

TEST(StatusWatch, RedrawsInPlaceOnATerminalUntilCtrlC) {
  TestCluster cluster({.workers = 1, .slots = 1});
  std::vector<std::string> env = cluster.base_env();
  env.push_back("UNI_CONNECT=" + cluster.address());
  env.push_back("UNI_AUTHKEY=" + cluster.authkey());
  PtyProcess watch({uni_binary(), "status", "--watch", "--interval", "0.2"}, env);
  // Each frame starts with cursor-home; three frames: it refreshes.
  auto frames = [](const std::string& out) {
    std::size_t n = 0;
    for (std::size_t at = out.find("\x1b[H"); at != std::string::npos;
         at = out.find("\x1b[H", at + 1))
      ++n;
    return n;
  };
  bool refreshed = watch.read_until([&](const std::string& out) { return frames(out) >= 3; }, 20s);
  EXPECT_TRUE(refreshed) << watch.output();
  EXPECT_TRUE(contains(watch.output(), "1 worker(s)")) << watch.output();
  EXPECT_TRUE(contains(watch.output(), "Ctrl-C ends")) << watch.output();
  watch.signal(SIGINT);
  std::optional<int> code = watch.wait(10s);
  ASSERT_TRUE(code.has_value()) << "uni status --watch did not end on SIGINT\n" << watch.output();
  EXPECT_EQ(*code, 0);
}

TEST(StatusWatch, WithJsonPrintsOneObjectALine) {
  TestCluster cluster({.workers = 1, .slots = 1});
  ChildProcess watch =
      cluster.start("watch", {uni_binary(), "status", "--watch", "--json", "--interval", "0.2"});
  ASSERT_TRUE(watch.wait_for_stdout("}\n{", 20s)) << watch.read_stdout() << watch.read_stderr();
  watch.signal(SIGINT);
  auto exit = watch.wait_for(10s);
  ASSERT_TRUE(exit.has_value());
  EXPECT_EQ(exit->code, 0) << exit->describe();
  std::vector<std::string> lines = split_lines(watch.read_stdout());
  ASSERT_GE(lines.size(), 2u);
  for (const std::string& line : lines) {
    json j = json::parse(line, nullptr, false);
    ASSERT_TRUE(j.is_object()) << line;
    EXPECT_EQ(j["workers"].size(), 1u) << line;
  }
}

TEST(StatusWatch, ABadIntervalIsAUsageError) {
  TestCluster cluster({.workers = 0});
  CommandResult r = cluster.uni({"status", "--watch", "--interval", "soon"});
  EXPECT_EQ(r.exit_code, 2) << r.describe();
  EXPECT_TRUE(contains(r.err, "--interval")) << r.describe();
}

}  // namespace
}  // namespace uni::test
