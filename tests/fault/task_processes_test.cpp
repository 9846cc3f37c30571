// Processes a task starts do not outlive it: attached children and daemons
// detached with setsid end when the task ends (result, failure, crash,
// timeout, cancel), a service keeps its own until it is stopped, and nothing
// remains once the worker stops, or is killed with SIGKILL (where executors
// get PID namespaces). Both ways of containing them are run: PID namespaces
// (`--pid-namespace auto`, as workers start by default) and the subreaper
// alone (`--pid-namespace off`, as where the kernel refuses a namespace).
#include <csignal>
#include <fstream>

#include "fault_support.hpp"

namespace uni::test {
namespace {

// The pids the sleepers of one test wrote, killed at the end whatever
// happened: a sleeper that escaped must not outlive the test either.
class Sleepers {
 public:
  explicit Sleepers(std::filesystem::path file) : file_(std::move(file)) {}
  ~Sleepers() {
    for (pid_t pid : read())
      if (process_alive(pid)) ::kill(pid, SIGKILL);
  }
  const std::string path() const { return file_.string(); }
  std::string arg() const { return "\"" + file_.string() + "\""; }

  std::vector<pid_t> read() const {
    std::vector<pid_t> pids;
    for (const std::string& line : split_lines(read_text(file_)))
      if (!line.empty()) pids.push_back(static_cast<pid_t>(std::stol(line)));
    return pids;
  }
  // Waits until `count` sleepers have written their pid.
  std::vector<pid_t> wait_for(std::size_t count, std::chrono::milliseconds timeout = 20s) const {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      std::vector<pid_t> pids = read();
      if (pids.size() >= count) return pids;
      std::this_thread::sleep_for(50ms);
    }
    ADD_FAILURE() << "the task's child never wrote its pid to " << file_;
    return read();
  }

 private:
  std::filesystem::path file_;
};

const char* detached_text(bool detached) { return detached ? "true" : "false"; }

class TaskProcesses : public ::testing::TestWithParam<std::string> {
 protected:
  // A worker that contains task processes the way under test: as it does by
  // default, or with `--pid-namespace off`.
  std::vector<std::string> worker_args() const {
    if (GetParam() == "auto") return {};
    return {"--pid-namespace", GetParam()};
  }
};

TEST_P(TaskProcesses, EndWhenTheTaskReturnsOrFails) {
  TestCluster cluster({.workers = 1, .slots = 1, .worker_args = worker_args()});
  for (bool detached : {false, true}) {
    for (std::string then : {"return", "throw"}) {
      SCOPED_TRACE(std::string(detached ? "detached" : "attached") + ", then " + then);
      Sleepers sleepers(cluster.dir() / ("pids-" + then + detached_text(detached)));
      CommandResult r = cluster.uni({"run", module_path("faults"), "start_child", sleepers.arg(),
                                     detached_text(detached), "\"" + then + "\""});
      EXPECT_EQ(r.exit_code, then == "return" ? 0 : 1) << r.describe();
      std::vector<pid_t> pids = sleepers.wait_for(1);
      EXPECT_TRUE(wait_processes_gone(pids, 10s)) << "the task's child outlived the task";
    }
  }
  expect_still_serving(cluster);
}

TEST_P(TaskProcesses, EndWhenTheirExecutorCrashes) {
  TestCluster cluster({.workers = 1, .slots = 1, .worker_args = worker_args()});
  for (bool detached : {false, true}) {
    Sleepers sleepers(cluster.dir() / (std::string("pids-crash-") + detached_text(detached)));
    CommandResult r =
        cluster.uni({"run", "--max-attempts", "1", module_path("faults"), "start_child",
                     sleepers.arg(), detached_text(detached), "\"crash\""});
    EXPECT_EQ(r.exit_code, 1) << r.describe();
    EXPECT_TRUE(contains(r.err, "SIGSEGV")) << r.describe();
    EXPECT_TRUE(wait_processes_gone(sleepers.wait_for(1), 10s))
        << "a child outlived its crashed executor (detached: " << detached << ")";
  }
  expect_still_serving(cluster);
}

TEST_P(TaskProcesses, EndWhenTheTaskTimesOut) {
  TestCluster cluster({.workers = 1, .slots = 1, .worker_args = worker_args()});
  Sleepers sleepers(cluster.dir() / "pids");
  CommandResult r = cluster.uni({"run", "--timeout", "1", module_path("faults"), "start_child",
                                 sleepers.arg(), "true", "\"hang\""});
  EXPECT_EQ(r.exit_code, 1) << r.describe();
  EXPECT_TRUE(contains(r.err, "timed out")) << r.describe();
  EXPECT_TRUE(wait_processes_gone(sleepers.wait_for(1), 10s));
  expect_still_serving(cluster);
}

TEST_P(TaskProcesses, EndWhenTheTaskIsCancelled) {
  TestCluster cluster({.workers = 1, .slots = 1, .worker_args = worker_args()});
  Sleepers sleepers(cluster.dir() / "pids");
  ChildProcess run =
      start_uni(cluster, "run",
                {"run", module_path("faults"), "start_child", sleepers.arg(), "true", "\"hang\""});
  std::vector<pid_t> pids = sleepers.wait_for(1);
  ASSERT_TRUE(wait_status(cluster, [](const nlohmann::json& s) { return s["running"] == 1; }));
  run.signal(SIGINT);
  ASSERT_TRUE(run.wait_for(10s).has_value()) << run.read_stderr();
  EXPECT_TRUE(wait_processes_gone(pids, 10s)) << "a child outlived its cancelled task";
  expect_still_serving(cluster);
}

TEST_P(TaskProcesses, AServiceKeepsItsChildrenUntilItIsStopped) {
  TestCluster cluster({.workers = 1, .slots = 2, .worker_args = worker_args()});
  Sleepers sleepers(cluster.dir() / "pids");
  CommandResult spawn = cluster.uni(
      {"spawn", module_path("faults"), "start_child", sleepers.arg(), "true", "\"hang\""});
  ASSERT_EQ(spawn.exit_code, 0) << spawn.describe();
  std::string id = split_lines(spawn.out).at(0);
  std::vector<pid_t> pids = sleepers.wait_for(1);
  // Other tasks come and go on the worker meanwhile; the service's child stays.
  expect_still_serving(cluster);
  expect_still_serving(cluster);
  ASSERT_EQ(pids.size(), 1u);
  EXPECT_TRUE(process_alive(pids[0])) << "the service lost its child while it ran";
  CommandResult stop = cluster.uni({"stop", id});
  EXPECT_EQ(stop.exit_code, 0) << stop.describe();
  EXPECT_TRUE(wait_processes_gone(pids, 10s)) << "a child outlived its stopped service";
}

TEST_P(TaskProcesses, NothingRemainsWhenTheWorkerStops) {
  std::vector<std::string> args = worker_args();
  args.insert(args.end(), {"--drain-timeout", "0.5"});
  TestCluster cluster({.workers = 1, .slots = 2, .worker_args = args});
  Sleepers sleepers(cluster.dir() / "pids");
  std::vector<ChildProcess> runs;
  for (const char* detached : {"false", "true"})
    runs.push_back(start_uni(
        cluster, "run",
        {"run", module_path("faults"), "start_child", sleepers.arg(), detached, "\"hang\""}));
  std::vector<pid_t> pids = sleepers.wait_for(2);
  ASSERT_TRUE(wait_status(cluster, [](const nlohmann::json& s) { return s["running"] == 2; }));
  cluster.worker(0).signal(SIGTERM);
  ASSERT_TRUE(cluster.worker(0).wait_for(20s).has_value()) << "the worker did not stop";
  EXPECT_TRUE(wait_processes_gone(pids, 10s)) << "a child outlived its stopped worker";
}

INSTANTIATE_TEST_SUITE_P(Containment, TaskProcesses, ::testing::Values("auto", "off"),
                         [](const auto& info) {
                           return info.param == "auto" ? std::string("PidNamespace")
                                                       : std::string("SubreaperOnly");
                         });

// Starts two tasks that each start a child (one attached, one detached) and
// hang; kills the worker's supervisor alone with SIGKILL; nothing it or its
// tasks started may remain.
void expect_nothing_left_after_sigkill(TestCluster& cluster, ChildProcess& worker,
                                       const Sleepers& sleepers) {
  std::vector<ChildProcess> runs;
  for (const char* detached : {"false", "true"})
    runs.push_back(start_uni(
        cluster, "run",
        {"run", module_path("faults"), "start_child", sleepers.arg(), detached, "\"hang\""}));
  std::vector<pid_t> pids = sleepers.wait_for(2);
  std::vector<pid_t> tree = worker.processes();
  worker.signal(SIGKILL);  // the supervisor alone: the test signals nothing else
  ASSERT_TRUE(worker.wait_for(10s).has_value());
  EXPECT_TRUE(wait_processes_gone(pids, 10s)) << "a child outlived its killed worker";
  EXPECT_TRUE(wait_processes_gone(tree, 10s)) << "an executor outlived its killed worker";
}

// The worker said at start-up that the kernel refuses it PID namespaces.
bool refused_pid_namespaces(ChildProcess& worker) {
  return contains(worker.read_stderr(), "executors run without a PID namespace");
}

TEST(TaskProcessesAfterSigkill, NothingOfAKilledWorkerRemains) {
  TestCluster cluster({.workers = 1, .slots = 2});
  if (refused_pid_namespaces(cluster.worker(0)))
    GTEST_SKIP() << "this kernel refuses PID namespaces: a SIGKILL of the worker leaves the "
                    "processes its tasks started (docs/reliability.md 4.14)\n"
                 << cluster.worker(0).read_stderr();
  Sleepers sleepers(cluster.dir() / "pids");
  expect_nothing_left_after_sigkill(cluster, cluster.worker(0), sleepers);
}

// What holds for an unprivileged worker: run as nobody, it gets its PID
// namespaces through a user namespace where the kernel allows that.
TEST(TaskProcessesAfterSigkill, NothingOfAKilledUnprivilegedWorkerRemains) {
  if (::geteuid() != 0) GTEST_SKIP() << "the other tests of this file run unprivileged already";
  if (::access("/usr/bin/setpriv", X_OK) != 0) GTEST_SKIP() << "no /usr/bin/setpriv";
  TestCluster cluster({.workers = 0});
  // A directory nobody can write: the worker's module cache and the pid files.
  TempDir shared("uni-nobody");
  std::filesystem::permissions(shared.path(), std::filesystem::perms::all);
  ChildProcess nobody = cluster.start(
      "nobody-worker",
      {"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", uni_binary(),
       "worker", "--connect", cluster.address(), "--authkey", cluster.authkey(), "--slots", "2",
       "--cache-dir", (shared.path() / "cache").string()},
      {}, false);
  ASSERT_TRUE(cluster.wait_for_worker(nobody.pid()));
  if (refused_pid_namespaces(nobody))
    GTEST_SKIP() << "this kernel refuses unprivileged user namespaces: an unprivileged worker's "
                    "tasks' processes survive its SIGKILL (docs/reliability.md 4.14)\n"
                 << nobody.read_stderr();
  Sleepers sleepers(shared.path() / "pids");
  expect_nothing_left_after_sigkill(cluster, nobody, sleepers);
}

}  // namespace
}  // namespace uni::test
