// Tasks on both brokers, through the CLI, the C++ API and the examples, with
// only the address changed: run, a map in input order (a failed line is an
// error line), a failing task, a run-time limit, a submitted task whose
// result a later command finds, the factorial and echo bosses, a wrong
// credential (exit 3, in time, a clear message that prints no secret), a
// worker killed mid-map (its tasks rerun, each result once), a poison task
// whose workers keep dying (stopped at its attempt limit), and a worker told
// to stop (SIGTERM) that drains what runs and hands back the rest.
#include <gtest/gtest.h>

#include <csignal>
#include <map>
#include <sstream>

#include "broker_cluster.hpp"
#include "net.hpp"
#include "proto/messages.hpp"

namespace uni::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

std::string testfns() { return module_path("testfns"); }

// "[1,0]\n[2,0]\n..." for slow(i, ms) of the faults module (it returns i).
std::string slow_inputs(int count, int ms) {
  std::string text;
  for (int i = 1; i <= count; ++i)
    text += "[" + std::to_string(i) + ", " + std::to_string(ms) + "]\n";
  return text;
}

// `uni map` printed 1..count, each exactly once and in order.
void expect_each_result_once(const std::string& out, int count) {
  std::vector<std::string> lines = split_lines(out);
  ASSERT_EQ(lines.size(), static_cast<std::size_t>(count)) << out;
  for (int i = 1; i <= count; ++i) EXPECT_EQ(lines[i - 1], std::to_string(i)) << out;
}

// A good task after a fault: the cluster still serves.
void expect_still_serving(BrokerCluster& cluster) {
  CommandResult r = cluster.uni({"run", testfns(), "add", "2", "3"});
  EXPECT_EQ(r.exit_code, 0) << "the cluster stopped serving\n" << r.describe();
  EXPECT_EQ(r.out, "5\n") << r.describe();
}

// Whether every worker of the status executes a task.
bool all_busy(BrokerCluster& cluster, std::size_t workers) {
  json s = cluster.api_status();
  if (!s.is_object() || s["workers"].size() != workers) return false;
  for (const auto& w : s["workers"])
    if (w.value("busy", 0) == 0) return false;
  return true;
}

// The index (in cluster.worker()) of a worker that executes tasks once all
// `workers` are listed; -1 while none does. On the manager, once every one
// does: it spreads a map's tasks over the workers. A NATS worker takes up
// to a message of tasks at once, so one of two may hold a whole short map.
int busy_worker(BrokerCluster& cluster, std::size_t workers) {
  json s = cluster.api_status();
  if (!s.is_object() || s["workers"].size() != workers) return -1;
  if (cluster.has_manager() && !all_busy(cluster, workers)) return -1;
  for (const auto& w : s["workers"])
    if (w.value("busy", 0) > 0)
      for (std::size_t i = 0; i < cluster.worker_count(); ++i)
        if (cluster.worker(i).pid() == w.value("pid", 0)) return static_cast<int>(i);
  return -1;
}

// The tasks executing on the worker whose supervisor is `pid`.
std::uint64_t busy_on(BrokerCluster& cluster, pid_t pid) {
  json s = cluster.api_status();
  if (!s.is_object()) return 0;
  for (const json& w : s["workers"])
    if (w.value("pid", 0) == pid) return w.value("busy", std::uint64_t{0});
  return 0;
}

class Tasks : public ::testing::TestWithParam<Broker> {};

TEST_P(Tasks, RunMapAndAFailingTask) {
  BrokerCluster cluster(GetParam(), {.workers = 1, .slots = 2});
  CommandResult run = cluster.uni({"run", testfns(), "add", "2", "3"});
  EXPECT_EQ(run.exit_code, 0) << run.describe();
  EXPECT_EQ(run.out, "5\n");

  std::ostringstream many;
  for (int i = 0; i < 300; ++i) many << "[" << i << ", 1]\n";
  CommandResult map = cluster.uni(
      {"map", "--input", cluster.dir().write("many.jsonl", many.str()).string(), testfns(), "add"});
  EXPECT_EQ(map.exit_code, 0) << map.describe();
  std::vector<std::string> lines = map.lines();
  ASSERT_EQ(lines.size(), 300u) << map.describe();
  for (int i = 0; i < 300; ++i) EXPECT_EQ(lines[i], std::to_string(i + 1)) << "line " << i;

  CommandResult fail = cluster.uni({"run", testfns(), "fail", "\"x\""});
  EXPECT_EQ(fail.exit_code, 1) << fail.describe();
  EXPECT_TRUE(contains(fail.err, "boom: x")) << fail.describe();
  EXPECT_TRUE(contains(fail.err, "exception")) << fail.describe();
}

TEST_P(Tasks, MapPrintsOneLinePerInputLineInInputOrder) {
  BrokerCluster cluster(GetParam(), {.workers = 1, .slots = 2});
  // Later lines finish first: the output must still follow the input.
  std::string input = "[600]\n[300]\n[0]\n[100]\n";
  CommandResult r =
      cluster.uni({"map", testfns(), "sleep_ms", "--input", "-"}, {.stdin_text = input});
  EXPECT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_EQ(r.lines(), (std::vector<std::string>{"600", "300", "0", "100"})) << r.describe();
}

TEST_P(Tasks, AFailedTaskOfAMapIsAnErrorLineAndExitCode1) {
  BrokerCluster cluster(GetParam());
  std::string input = "[10, 2]\n[1, 0]\n[9, 3]\nnot json\n[8, 4]\n";
  CommandResult r = cluster.uni({"map", testfns(), "checked_div"}, {.stdin_text = input});
  EXPECT_EQ(r.exit_code, 1) << r.describe();
  std::vector<std::string> lines = r.lines();
  ASSERT_EQ(lines.size(), 5u) << r.describe();
  EXPECT_EQ(lines[0], "5");
  EXPECT_EQ(lines[2], "3");
  EXPECT_EQ(lines[4], "2");
  for (int i : {1, 3}) {
    json j = json::parse(lines[i], nullptr, false);
    ASSERT_TRUE(j.is_object() && j.contains("error") && j["error"].is_string())
        << "line " << i << ": " << lines[i];
  }
  EXPECT_TRUE(contains(json::parse(lines[1])["error"].get<std::string>(), "division by zero"))
      << lines[1];
}

// --timeout limits the run time, in seconds with fractions; the slot is
// free again for the next task.
TEST_P(Tasks, ATaskPastItsTimeoutFailsAndTheSlotServesAgain) {
  BrokerCluster cluster(GetParam(), {.workers = 1, .slots = 1});
  CommandResult slow =
      cluster.uni({"run", "--timeout", "0.5", testfns(), "sleep_ms", "10000"}, {.timeout = 30s});
  EXPECT_EQ(slow.exit_code, 1) << slow.describe();
  EXPECT_TRUE(contains(slow.err, "timed out")) << slow.describe();
  EXPECT_LT(slow.elapsed, 9s) << slow.describe();
  expect_still_serving(cluster);
}

TEST_P(Tasks, SubmitExitsAndALaterResultFindsTheResult) {
  BrokerCluster cluster(GetParam(), {.workers = 0});
  CommandResult submit = cluster.uni({"submit", testfns(), "add", "20", "22"});
  ASSERT_EQ(submit.exit_code, 0) << submit.describe();
  std::string id = first_line(submit);
  ASSERT_TRUE(proto::TaskId::parse(id)) << submit.describe();
  CommandResult failing = cluster.uni({"submit", testfns(), "fail", "\"late\""});
  ASSERT_EQ(failing.exit_code, 0) << failing.describe();
  std::string failing_id = first_line(failing);

  // No worker yet: no result, exit 4.
  CommandResult early = cluster.uni({"result", id});
  EXPECT_EQ(early.exit_code, 4) << early.describe();
  EXPECT_TRUE(contains(early.err, "no result yet")) << early.describe();

  cluster.add_worker(2);
  CommandResult result = cluster.uni({"result", id, "--wait", "30"}, {.timeout = 60s});
  EXPECT_EQ(result.exit_code, 0) << result.describe();
  EXPECT_EQ(result.out, "42\n");
  CommandResult failed = cluster.uni({"result", failing_id, "--wait", "30"}, {.timeout = 60s});
  EXPECT_EQ(failed.exit_code, 1) << failed.describe();
  EXPECT_TRUE(contains(failed.err, "boom: late")) << failed.describe();
  // Asked again later, the result is still there.
  EXPECT_EQ(cluster.uni({"result", id}).out, "42\n");
  // Stopping it now: NATS finds its stored result and says it had
  // finished; the manager, which keeps the result too, answers as for an
  // id it never saw (the brokers differ here).
  CommandResult stop = cluster.uni({"stop", id});
  if (cluster.has_manager()) {
    EXPECT_EQ(stop.exit_code, 1) << stop.describe();
    EXPECT_TRUE(contains(stop.err, "no task or service with id " + id)) << stop.describe();
  } else {
    EXPECT_EQ(stop.exit_code, 0) << stop.describe();
    EXPECT_EQ(stop.out, id + " had already finished\n");
  }

  CommandResult bad = cluster.uni({"result", "not-an-id"});
  EXPECT_EQ(bad.exit_code, 2) << bad.describe();
}

TEST_P(Tasks, TheFactorialBossRunsUnchanged) {
  BrokerCluster cluster(GetParam());
  CommandResult boss = cluster.run(
      {bin_path("factorial_boss"), "--connect", cluster.address(), "5", "10"}, {.timeout = 60s});
  EXPECT_EQ(boss.exit_code, 0) << boss.describe();
  EXPECT_TRUE(contains(boss.out, "120")) << boss.describe();
  EXPECT_TRUE(contains(boss.out, "3628800")) << boss.describe();
}

TEST_P(Tasks, TheEchoExampleRunsItsServicesUnchanged) {
  BrokerCluster cluster(GetParam(), {.workers = 1, .slots = 2});
  int a = free_tcp_port(), b = free_tcp_port();
  CommandResult boss = cluster.run({bin_path("echo_boss"), "--connect", cluster.address(),
                                    "--ports", std::to_string(a) + "," + std::to_string(b)},
                                   {.timeout = 60s});
  EXPECT_EQ(boss.exit_code, 0) << boss.describe();
  EXPECT_TRUE(
      contains(boss.out, "port " + std::to_string(a) + " echoed: hello, port " + std::to_string(a)))
      << boss.describe();
  EXPECT_TRUE(contains(boss.out, "server returned " + std::to_string(b))) << boss.describe();
}

// The wrong secret: an authkey for the manager, a password in the address
// for NATS (one that the messages would not otherwise contain).
TEST_P(Tasks, AWrongCredentialExitsWithCode3InTimeAndSaysWhy) {
  const bool manager = GetParam() == Broker::kManager;
  BrokerCluster cluster(GetParam(), {.workers = 0,
                                     .nats = {.auth = {.user = "uni", .password = "right"}},
                                     .nats_credentials = "uni:right"});
  std::string address = cluster.address();
  std::vector<std::string> env;
  if (manager) {
    env = {"UNI_AUTHKEY=Xyzzy42"};
  } else {
    address.replace(address.find("uni:right@"), 10, "uni:Xyzzy42@");
    env = {"UNI_CONNECT=" + address};
  }
  for (const char* command : {"run", "worker"}) {
    std::vector<std::string> argv = {uni_binary(), command};
    if (std::string(command) == "run") argv = {uni_binary(), "run", testfns(), "add", "1", "2"};
    else argv.insert(argv.end(), {"--connect", address});
    ChildProcess p = cluster.start(command, argv, env);
    std::optional<ExitStatus> status = p.wait_for(6s);  // 5 s, and the process's own start
    ASSERT_TRUE(status) << command << " still running after 6 s: " << p.read_stderr();
    EXPECT_EQ(status->code, 3) << command << ": " << p.read_stderr();
    EXPECT_TRUE(contains(p.read_stderr(), "authentication failed")) << p.read_stderr();
    EXPECT_FALSE(contains(p.read_stderr(), "Xyzzy42")) << "the secret is printed";
  }
  // The right credential works.
  cluster.add_worker(1);
  EXPECT_EQ(cluster.uni({"run", testfns(), "add", "1", "2"}).out, "3\n");
}

TEST_P(Tasks, AWorkerKilledMidMapHasItsTasksRerunAndEachResultOnce) {
  BrokerCluster cluster(GetParam(),
                        {.workers = 2, .slots = 2, .env = {"UNI_NATS_ACK_WAIT_MS=1000"}});
  ChildProcess map =
      cluster.start("map", {uni_binary(), "map", module_path("faults"), "slow", "--input",
                            cluster.dir().write("in.jsonl", slow_inputs(16, 500)).string()});
  // Wait until a worker runs tasks (on the manager: both do), then kill it
  // outright.
  int busy = -1;
  ASSERT_TRUE(eventually([&] { return (busy = busy_worker(cluster, 2)) >= 0; }));
  cluster.worker(static_cast<std::size_t>(busy)).kill(SIGKILL);
  auto status = map.wait_for(90s);
  ASSERT_TRUE(status.has_value()) << "the map never finished: " << map.read_stderr();
  EXPECT_EQ(status->code, 0) << map.read_stderr();
  expect_each_result_once(map.read_stdout(), 16);
  // The manager counts what it handed out again; on NATS the server
  // redelivers, and nobody counts.
  if (cluster.has_manager()) {
    EXPECT_GT(cluster.status()["totals"]["requeued"].get<int>(), 0) << "no task was requeued";
  }
  expect_still_serving(cluster);
}

TEST_P(Tasks, APoisonTaskWhoseWorkersDieStopsAtItsAttemptLimit) {
  BrokerCluster cluster(GetParam(), {.workers = 0, .env = {"UNI_NATS_ACK_WAIT_MS=1000"}});
  ChildProcess boss = cluster.start(
      "run", {uni_binary(), "run", "--max-attempts", "2", testfns(), "sleep_ms", "600000"});
  for (std::size_t attempt = 0; attempt < 2; ++attempt) {
    ChildProcess& worker = cluster.add_worker(1);
    ASSERT_TRUE(eventually([&] { return busy_on(cluster, worker.pid()) == 1; }, 30s))
        << "attempt " << attempt + 1 << " never ran";
    worker.kill(SIGKILL);
    worker.wait_for(5s);
  }
  cluster.add_worker(1);
  std::optional<ExitStatus> status = boss.wait_for(60s);
  ASSERT_TRUE(status) << boss.read_stderr();
  EXPECT_EQ(status->code, 1) << boss.read_stderr();
  EXPECT_TRUE(contains(boss.read_stderr(), "crashed")) << boss.read_stderr();
  // The manager lists each attempt and how its worker was lost; NATS, whose
  // server counted the deliveries, names the limit (the brokers differ here).
  if (cluster.has_manager()) {
    EXPECT_TRUE(contains(boss.read_stderr(), "failed 2 attempts: attempt 1: worker "))
        << boss.read_stderr();
    EXPECT_TRUE(contains(boss.read_stderr(), "attempt 2: worker ")) << boss.read_stderr();
  } else {
    EXPECT_TRUE(contains(boss.read_stderr(), "attempt limit 2")) << boss.read_stderr();
  }
}

TEST_P(Tasks, SigtermDrainsRunningTasksAndHandsBackTheRest) {
  BrokerCluster cluster(GetParam(), {.workers = 2, .slots = 2});
  std::string runs = (cluster.dir() / "runs.txt").string();
  std::string input;
  for (int i = 1; i <= 12; ++i) input += "[\"" + runs + "\", " + std::to_string(i) + ", 800]\n";
  ChildProcess map =
      cluster.start("map", {uni_binary(), "map", module_path("faults"), "counted", "--input",
                            cluster.dir().write("in.jsonl", input).string()});
  int busy = -1;
  ASSERT_TRUE(eventually([&] { return (busy = busy_worker(cluster, 2)) >= 0; }));
  ChildProcess& draining = cluster.worker(static_cast<std::size_t>(busy));
  pid_t drained = draining.pid();
  draining.signal(SIGTERM);
  auto worker_exit = draining.wait_for(30s);
  ASSERT_TRUE(worker_exit.has_value()) << "the worker did not finish draining";
  EXPECT_FALSE(worker_exit->signaled) << describe(worker_exit);
  EXPECT_EQ(worker_exit->code, 0);
  EXPECT_TRUE(contains(draining.read_stderr(), "draining")) << draining.read_stderr();

  auto status = map.wait_for(60s);
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->code, 0) << map.read_stderr();
  std::vector<std::string> lines = split_lines(map.read_stdout());
  ASSERT_EQ(lines.size(), 12u) << map.read_stdout();
  // Drained tasks finished where they ran; handed-back ones ran elsewhere:
  // every task started exactly once.
  std::map<std::string, int> starts;
  for (const std::string& line : split_lines(read_text(runs))) ++starts[line];
  EXPECT_EQ(starts.size(), 12u);
  for (const auto& [value, count] : starts) EXPECT_EQ(count, 1) << "task " << value << " ran twice";
  EXPECT_TRUE(eventually([&] {
    json s = cluster.status();
    for (const json& w : s["workers"])
      if (w.value("pid", 0) == drained) return false;
    return s.is_object();
  }));
  expect_still_serving(cluster);
}

INSTANTIATE_TEST_SUITE_P(Brokers, Tasks, kBothBrokers, BrokerName());

}  // namespace
}  // namespace uni::test
