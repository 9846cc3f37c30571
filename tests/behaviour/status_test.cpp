// `uni status` on both brokers: per worker its pid, host, slots, busy count,
// the tasks it completed and failed, its last heartbeat's age and its
// uptime; the queue (tasks, not messages) and the bosses connected; per
// service its worker and uptime; recent failures with their errors;
// cancelled tasks counted and a stop that is no failure. `--json` carries
// the same, the text shows it (and says which broker answered), `--watch`
// redraws in place on a terminal until Ctrl-C. `uni stop` cancels a running
// task, a queued one, a service, and knows what was never handed out.
#include <gtest/gtest.h>

#include <csignal>
#include <fstream>
#include <set>
#include <thread>

#include "broker_cluster.hpp"
#include "proto/messages.hpp"
#include "pty_process.hpp"

namespace uni::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

// A `uni map` input file of `lines` lines in the cluster's temp dir.
std::string write_input(BrokerCluster& cluster, const std::string& name,
                        const std::vector<std::string>& lines) {
  std::string text;
  for (const std::string& l : lines) text += l + "\n";
  return cluster.dir().write(name, text).string();
}

// The status once `done` holds of it (or the last one, after 30 s): polled
// through the C++ API, then read once more by `uni status --json`, whose
// document the test checks.
json status_when(BrokerCluster& cluster, const std::function<bool(const json&)>& done) {
  json s;
  eventually(
      [&] {
        s = cluster.api_status();
        return s.is_object() && done(s);
      },
      30s);
  json cli = cluster.status();
  return cli.is_object() && done(cli) ? cli : s;
}

class StatusFields : public ::testing::TestWithParam<Broker> {};

TEST_P(StatusFields, WorkersCountWhatTheyRanAndFailuresAreListedWithTheirErrors) {
  BrokerCluster cluster(GetParam(), {.workers = 2, .slots = 1});
  std::vector<std::string> lines(12, "[7]");
  CommandResult map = cluster.uni(
      {"map", module_path("testfns"), "ident", "--input", write_input(cluster, "in.jsonl", lines)});
  ASSERT_EQ(map.exit_code, 0) << map.describe();
  CommandResult fail = cluster.uni({"run", module_path("testfns"), "fail", "x"});
  ASSERT_EQ(fail.exit_code, 1) << fail.describe();

  // On NATS the workers' counts arrive with their next heartbeat.
  json s = status_when(cluster, [](const json& j) {
    std::uint64_t done = 0;
    for (const json& w : j["workers"]) done += w.value("completed", 0) + w.value("failed", 0);
    return done >= 13;
  });
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
  // A manager has an uptime of its own; NATS has no manager.
  if (cluster.has_manager()) {
    EXPECT_GT(s.value("uptime_ms", 0), 0) << s.dump();
  } else {
    EXPECT_EQ(s.value("uptime_ms", -1), 0) << s.dump();
  }
  // The manager remembers recent failures with their errors; NATS keeps no
  // such list (the brokers differ here): only the counts tell.
  if (cluster.has_manager()) {
    ASSERT_EQ(s["recent_failures"].size(), 1u) << s.dump();
    const json& f = s["recent_failures"][0];
    EXPECT_EQ(f.value("function", ""), "fail") << f.dump();
    EXPECT_EQ(f.value("status", ""), "exception") << f.dump();
    EXPECT_TRUE(contains(f.value("error", ""), "boom: x")) << f.dump();
    bool on_a_worker = false;
    for (const json& w : s["workers"]) on_a_worker |= w.value("id", "") == f.value("worker", "?");
    EXPECT_TRUE(on_a_worker) << s.dump();
  } else {
    EXPECT_TRUE(s["recent_failures"].empty()) << s.dump();
  }

  // The worker's uptime grows; the text shows the new columns and lines.
  std::this_thread::sleep_for(300ms);
  json later = cluster.status();
  EXPECT_GT(later["workers"][0].value("uptime_ms", 0), s["workers"][0].value("uptime_ms", 0));
  CommandResult text = cluster.uni({"status"});
  ASSERT_EQ(text.exit_code, 0) << text.describe();
  EXPECT_TRUE(contains(text.out, "DONE")) << text.out;
  EXPECT_TRUE(contains(text.out, "HEARTBEAT")) << text.out;
  EXPECT_TRUE(contains(text.out, "12 completed, 1 failed")) << text.out;
  // The manager counts what was submitted; on NATS the totals are the live
  // workers' and bosses', and the bosses have left.
  if (cluster.has_manager()) {
    EXPECT_TRUE(contains(text.out, "/s over the last 10 s; 13 submitted, 12 completed, 1 failed"))
        << text.out;
  }
  if (cluster.has_manager()) {
    EXPECT_TRUE(contains(text.out, "recent failures")) << text.out;
    EXPECT_TRUE(contains(text.out, "boom: x")) << text.out;
  }
}

TEST_P(StatusFields, AServiceShowsItsWorkerAndUptimeAndStoppingItCountsAsCancelled) {
  BrokerCluster cluster(GetParam(), {.workers = 1, .slots = 2});
  CommandResult spawn = cluster.uni({"spawn", module_path("testfns"), "sleep_ms", "600000"});
  ASSERT_EQ(spawn.exit_code, 0) << spawn.describe();
  std::string id = spawn.lines().at(0);
  ASSERT_TRUE(proto::TaskId::parse(id)) << spawn.describe();
  // The manager times a service from its worker's report that it runs; the
  // NATS services bucket carries no start time, so there the uptime stays 0
  // (the brokers differ here).
  const bool timed = cluster.has_manager();
  json s = status_when(cluster, [&](const json& j) {
    return j["services"].size() == 1 && j["services"][0].value("state", "") == "running" &&
           (!timed || j["services"][0].value("uptime_ms", 0) > 0);
  });
  ASSERT_EQ(s["services"].size(), 1u) << s.dump();
  EXPECT_EQ(s["services"][0].value("id", ""), id);
  EXPECT_EQ(s["services"][0].value("function", ""), "sleep_ms");
  EXPECT_EQ(s["services"][0].value("worker", ""), s["workers"][0].value("id", "?"));
  if (timed) {
    EXPECT_GT(s["services"][0].value("uptime_ms", 0), 0) << s.dump();
  } else {
    EXPECT_EQ(s["services"][0].value("uptime_ms", -1), 0) << s.dump();
  }
  ASSERT_EQ(s["workers"].size(), 1u) << s.dump();
  EXPECT_EQ(s["workers"][0].value("pid", 0), cluster.worker(0).pid()) << s.dump();
  CommandResult text = cluster.uni({"status"});
  EXPECT_TRUE(contains(text.out, "UPTIME")) << text.out;
  EXPECT_TRUE(contains(text.out, id)) << text.out;
  EXPECT_TRUE(contains(text.out, "1 worker")) << text.out;

  CommandResult stop = cluster.uni({"stop", id});
  ASSERT_EQ(stop.exit_code, 0) << stop.describe();
  // It was running: its worker stops it (not "cancelled before it started").
  EXPECT_EQ(stop.out, "stopped " + id + "\n");
  s = status_when(cluster, [](const json& j) {
    return j["totals"].value("cancelled", 0) == 1 && j["services"].empty() &&
           j.value("running", 1) == 0;
  });
  EXPECT_EQ(s["totals"].value("cancelled", 0), 1) << s.dump();
  EXPECT_TRUE(s["services"].empty()) << s.dump();
  EXPECT_EQ(s.value("running", -1), 0) << s.dump();
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

TEST_P(StatusFields, JsonListsWorkersQueueAndServices) {
  BrokerCluster cluster(GetParam(), {.workers = 2, .slots = 3});
  json j = cluster.status();
  ASSERT_TRUE(j.is_object());
  ASSERT_TRUE(j.contains("workers") && j["workers"].is_array()) << j.dump();
  ASSERT_EQ(j["workers"].size(), 2u) << j.dump();
  std::set<pid_t> pids = {cluster.worker(0).pid(), cluster.worker(1).pid()};
  std::set<std::string> ids;
  for (const json& w : j["workers"]) {
    ASSERT_TRUE(w.is_object());
    EXPECT_TRUE(w.contains("id") && w["id"].is_string()) << w.dump();
    ids.insert(w.value("id", ""));
    EXPECT_EQ(w.value("host", ""), host_name()) << w.dump();
    EXPECT_EQ(pids.count(w.value("pid", -1)), 1u) << w.dump();
    EXPECT_EQ(w.value("slots", -1), 3) << w.dump();
    EXPECT_EQ(w.value("busy", -1), 0) << w.dump();
  }
  EXPECT_EQ(ids.size(), 2u) << "worker ids are not distinct: " << j.dump();
  ASSERT_TRUE(j.contains("queue") && j["queue"].is_number_integer()) << j.dump();
  EXPECT_EQ(j["queue"].get<int>(), 0);
  ASSERT_TRUE(j.contains("services") && j["services"].is_array()) << j.dump();
  EXPECT_TRUE(j["services"].empty());

  // The human-readable form names the same workers, and the broker.
  CommandResult text = cluster.uni({"status"});
  EXPECT_EQ(text.exit_code, 0) << text.describe();
  for (const auto& id : ids) EXPECT_TRUE(contains(text.out, id)) << text.describe();
  if (cluster.has_manager()) {
    EXPECT_EQ(text.out.rfind("manager ", 0), 0u) << text.out;
    EXPECT_TRUE(contains(text.out, "result(s) kept for uni result")) << text.out;
  } else {
    // No manager runs: no uptime of one, and no count of kept results.
    EXPECT_EQ(text.out.rfind("NATS cluster at ", 0), 0u) << text.out;
    EXPECT_EQ(text.out.find(", up "), std::string::npos) << text.out;
    EXPECT_TRUE(contains(text.out, "results are kept in the cluster")) << text.out;
  }
}

TEST_P(StatusFields, BusyAndQueueCountRunningAndWaitingTasks) {
  BrokerCluster cluster(GetParam(), {.workers = 1, .slots = 1});
  uni::Cluster boss = cluster.connect();
  auto sleep = boss.function<int(int)>(module_path("testfns"), "sleep_ms");
  std::vector<Future<int>> futures;
  for (int i = 0; i < 3; ++i) futures.push_back(sleep(1000));
  // The manager queues what waits; a NATS worker takes the three tasks in one
  // message and holds the two that wait (`assigned`), so the queue is empty
  // there (the brokers differ here).
  const bool queued = cluster.has_manager();
  json j = status_when(cluster, [&](const json& s) {
    return s["workers"][0].value("busy", 0) == 1 &&
           (queued ? s.value("queue", 0) >= 1 : s.value("assigned", 0) >= 2);
  });
  EXPECT_EQ(j["workers"][0].value("busy", 0), 1) << j.dump();
  if (queued) {
    EXPECT_GE(j.value("queue", 0), 1) << j.dump();
  } else {
    EXPECT_GE(j.value("assigned", 0), 2) << j.dump();
  }
  for (auto& f : futures) ASSERT_TRUE(f.wait_for(60s));
}

// `uni submit` keeps a task, a `uni map` of 150 more waits with no worker:
// `uni status` counts 151 queued (tasks, not messages) and the waiting
// boss; `uni stop` cancels the submitted task before it started and says
// it knows no id never handed out.
TEST_P(StatusFields, StatusCountsQueuedTasksAndBossesAndStopKnowsWhatWasHandedOut) {
  BrokerCluster cluster(GetParam(), {.workers = 0});
  const std::string testfns = module_path("testfns");
  CommandResult submit = cluster.uni({"submit", testfns, "add", "20", "22"});
  ASSERT_EQ(submit.exit_code, 0) << submit.describe();
  const std::string id = first_line(submit);
  std::string input;
  for (int i = 0; i < 150; ++i) input += "[1,2]\n";
  ChildProcess map = cluster.start(
      "map", {uni_binary(), "map", testfns, "add", "--input", cluster.dir().write("in", input)});

  json report = status_when(cluster, [](const json& s) {
    return s.value("queue", 0) == 151 && s.value("bosses", 0) >= 1;
  });
  EXPECT_EQ(report.value("queue", 0), 151) << report.dump();
  EXPECT_GE(report.value("bosses", 0), 1) << report.dump();
  CommandResult text = cluster.uni({"status"});
  EXPECT_TRUE(contains(text.out, "queue: 151 waiting")) << text.out;
  EXPECT_TRUE(contains(text.out, "boss(es) connected")) << text.out;

  CommandResult stop = cluster.uni({"stop", id});
  EXPECT_EQ(stop.exit_code, 0) << stop.describe();
  EXPECT_EQ(stop.out, "cancelled " + id + " before it started\n");
  CommandResult never = cluster.uni({"stop", "00000000deadbeef-1"});
  EXPECT_EQ(never.exit_code, 1) << never.describe();
  EXPECT_TRUE(contains(never.err, "no task or service with id 00000000deadbeef-1"))
      << never.describe();
  map.kill();
}

TEST_P(StatusFields, StopCancelsARunningTaskById) {
  BrokerCluster cluster(GetParam(), {.workers = 1, .slots = 1});
  uni::Cluster boss = cluster.connect();
  Future<int> f = boss.function<int(int)>(module_path("testfns"), "sleep_ms")(60000);
  // Wait until it runs, then stop it from the command line.
  json j =
      status_when(cluster, [](const json& s) { return s["workers"][0].value("busy", 0) == 1; });
  ASSERT_EQ(j["workers"][0].value("busy", 0), 1) << j.dump();
  CommandResult r = cluster.uni({"stop", f.id()});
  EXPECT_EQ(r.exit_code, 0) << r.describe();
  ASSERT_TRUE(f.wait_for(15s)) << "the stopped task did not end";
  try {
    f.get();
    ADD_FAILURE() << "a stopped task returned a value";
  } catch (const TaskError& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kCancelled) << e.what();
  }
  // The slot is free for the next task.
  CommandResult next = cluster.uni({"run", module_path("testfns"), "add", "1", "1"});
  EXPECT_EQ(next.exit_code, 0) << next.describe();
  EXPECT_EQ(next.out, "2\n");
}

class StatusWatch : public ::testing::TestWithParam<Broker> {};

TEST_P(StatusWatch, RedrawsInPlaceOnATerminalUntilCtrlC) {
  BrokerCluster cluster(GetParam(), {.workers = 1, .slots = 1});
  PtyProcess watch({uni_binary(), "status", "--watch", "--interval", "0.2"}, cluster.env());
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

TEST_P(StatusWatch, WithJsonPrintsOneObjectALine) {
  BrokerCluster cluster(GetParam(), {.workers = 1, .slots = 1});
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

// A usage error, found before any broker is asked: tested once.
TEST(StatusWatchUsage, ABadIntervalIsAUsageError) {
  TestCluster cluster({.workers = 0});
  CommandResult r = cluster.uni({"status", "--watch", "--interval", "soon"});
  EXPECT_EQ(r.exit_code, 2) << r.describe();
  EXPECT_TRUE(contains(r.err, "--interval")) << r.describe();
}

INSTANTIATE_TEST_SUITE_P(Brokers, StatusFields, kBothBrokers, BrokerName());
INSTANTIATE_TEST_SUITE_P(Brokers, StatusWatch, kBothBrokers, BrokerName());

}  // namespace
}  // namespace uni::test
