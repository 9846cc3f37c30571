// Processes a task starts do not outlive it: attached children and daemons
// detached with setsid end when the task ends (result, failure, crash,
// timeout, cancel), a service keeps its own until it is stopped, and nothing
// remains once the worker stops or its supervisor is killed with SIGKILL,
// also when it runs unprivileged. Both ways of containing them are run: the
// executors' keepers and subreapers (the default) and PID namespaces
// (`--pid-namespace on`, where the kernel gives them), which also hold when
// the supervisor and the keepers are killed at once.
#include <unistd.h>

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

// Whether the kernel gives this user PID namespaces, as the worker checks.
bool kernel_gives_pid_namespaces(const std::vector<std::string>& prefix = {}) {
  std::vector<std::string> argv = prefix;
  argv.insert(argv.end(), {uni_binary(), "executor", "--probe-pid-namespace"});
  SpawnOptions probe;
  probe.argv = argv;
  probe.stdin_null = true;
  ExitStatus status = Process::spawn(probe).wait();
  return !status.signaled && status.code == 0;
}

class TaskProcesses : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "on" && !kernel_gives_pid_namespaces())
      GTEST_SKIP() << "the kernel refuses this user a PID namespace";
  }
  // A worker that contains task processes the way under test: as it does by
  // default, or with `--pid-namespace on`.
  std::vector<std::string> worker_args() const {
    if (GetParam() == "off") return {};
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

INSTANTIATE_TEST_SUITE_P(Containment, TaskProcesses, ::testing::Values("off", "on"),
                         [](const auto& info) {
                           return info.param == "off" ? std::string("Keepers")
                                                      : std::string("PidNamespaces");
                         });

// Starts two tasks that each start a child (one attached, one detached) and
// hang; kills the worker's supervisor with SIGKILL (and, with `keepers_too`,
// its executors' keepers with it); nothing it or its tasks started may
// remain.
void expect_nothing_left_after_sigkill(TestCluster& cluster, ChildProcess& worker,
                                       const Sleepers& sleepers, bool keepers_too = false) {
  std::vector<ChildProcess> runs;
  for (const char* detached : {"false", "true"})
    runs.push_back(start_uni(
        cluster, "run",
        {"run", module_path("faults"), "start_child", sleepers.arg(), detached, "\"hang\""}));
  std::vector<pid_t> pids = sleepers.wait_for(2);
  std::vector<pid_t> tree = worker.processes();
  // The keepers are the supervisor's children; the executors and what the
  // tasks started are below them, and the test signals none of those.
  std::vector<pid_t> keepers;
  for (pid_t pid : tree)
    if (keepers_too && parent_pid(pid) == worker.pid()) keepers.push_back(pid);
  worker.signal(SIGKILL);
  for (pid_t keeper : keepers) ::kill(keeper, SIGKILL);
  ASSERT_TRUE(worker.wait_for(10s).has_value());
  EXPECT_TRUE(wait_processes_gone(pids, 10s)) << "a child outlived its killed worker";
  EXPECT_TRUE(wait_processes_gone(tree, 10s)) << "an executor outlived its killed worker";
}

TEST_P(TaskProcesses, NothingRemainsWhenTheSupervisorIsKilledWithSigkill) {
  TestCluster cluster({.workers = 1, .slots = 2, .worker_args = worker_args()});
  Sleepers sleepers(cluster.dir() / "pids");
  expect_nothing_left_after_sigkill(cluster, cluster.worker(0), sleepers);
}

// Only the kernel can end what the tasks started when no process of the
// worker is left to do it: that takes the PID namespaces.
TEST(TaskProcessesInPidNamespaces, NothingRemainsWhenSupervisorAndKeepersAreKilledAtOnce) {
  if (!kernel_gives_pid_namespaces()) GTEST_SKIP() << "the kernel refuses a PID namespace";
  TestCluster cluster({.workers = 1, .slots = 2, .worker_args = {"--pid-namespace", "on"}});
  Sleepers sleepers(cluster.dir() / "pids");
  expect_nothing_left_after_sigkill(cluster, cluster.worker(0), sleepers, true);
}

// What holds for an unprivileged worker (run as nobody): the keepers need no
// privilege; PID namespaces come through a user namespace where the kernel
// allows unprivileged ones.
class UnprivilegedTaskProcesses : public TaskProcesses {};

TEST_P(UnprivilegedTaskProcesses, NothingRemainsWhenTheSupervisorIsKilledWithSigkill) {
  if (::geteuid() != 0) GTEST_SKIP() << "the other tests of this file run unprivileged already";
  if (::access("/usr/bin/setpriv", X_OK) != 0) GTEST_SKIP() << "no /usr/bin/setpriv";
  const std::vector<std::string> as_nobody = {"/usr/bin/setpriv", "--reuid=65534", "--regid=65534",
                                              "--clear-groups"};
  if (GetParam() == "on" && !kernel_gives_pid_namespaces(as_nobody))
    GTEST_SKIP() << "the kernel refuses an unprivileged user a PID namespace";
  TestCluster cluster({.workers = 0});
  // A directory nobody can write: the worker's module cache and the pid files.
  TempDir shared("uni-nobody");
  std::filesystem::permissions(shared.path(), std::filesystem::perms::all);
  std::vector<std::string> argv = as_nobody;
  argv.insert(argv.end(), {uni_binary(), "worker", "--connect", cluster.address(), "--authkey",
                           cluster.authkey(), "--slots", "2", "--cache-dir",
                           (shared.path() / "cache").string()});
  for (const std::string& arg : worker_args()) argv.push_back(arg);
  ChildProcess nobody = cluster.start("nobody-worker", argv, {}, false);
  ASSERT_TRUE(cluster.wait_for_worker(nobody.pid())) << nobody.read_stderr();
  Sleepers sleepers(shared.path() / "pids");
  expect_nothing_left_after_sigkill(cluster, nobody, sleepers, GetParam() == "on");
}

INSTANTIATE_TEST_SUITE_P(Containment, UnprivilegedTaskProcesses, ::testing::Values("off", "on"),
                         [](const auto& info) {
                           return info.param == "off" ? std::string("Keepers")
                                                      : std::string("PidNamespaces");
                         });

}  // namespace
}  // namespace uni::test
