// Bad input gets a clear error, and the cluster keeps serving: after each
// failure a good task still runs. Also the failures of connecting (wrong
// authkey, no manager, an empty key file), misuse of the API (an empty
// Future), and the waits a boss is told about: a worker that is not there, a
// manager that went away.
#include <dlfcn.h>
#include <gtest/gtest.h>
#include <zlib.h>

#include <thread>

#include "net.hpp"
#include "test_cluster.hpp"

namespace uni::test {
namespace {

using namespace std::chrono_literals;

// A good task after a failure: the cluster still serves.
void expect_still_serving(TestCluster& cluster) {
  CommandResult r = cluster.uni({"run", module_path("testfns"), "add", "2", "3"});
  EXPECT_EQ(r.exit_code, 0) << "the cluster stopped serving\n" << r.describe();
  EXPECT_EQ(r.out, "5\n") << r.describe();
}

TEST(BadInput, UnknownFunctionIsNamedAndTheExportsListed) {
  TestCluster cluster;
  CommandResult r = cluster.uni({"run", module_path("testfns"), "no_such_fn", "1"});
  EXPECT_EQ(r.exit_code, 1) << r.describe();
  EXPECT_TRUE(contains(r.err, "no_such_fn")) << r.describe();
  for (const char* exported : {"ident", "add", "greet", "chatter"})
    EXPECT_TRUE(contains(r.err, exported)) << "the error does not list " << exported << "\n"
                                           << r.describe();
  expect_still_serving(cluster);

  uni::Cluster boss = cluster.connect();
  auto f = boss.function<int(int)>(module_path("testfns"), "no_such_fn")(1);
  ASSERT_TRUE(f.wait_for(30s));
  try {
    f.get();
    ADD_FAILURE() << "an unknown function returned";
  } catch (const TaskError& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kUnknownFunction) << e.what();
  }
}

TEST(BadInput, WrongNumberOfArgumentsSaysHowManyAreExpected) {
  TestCluster cluster;
  CommandResult r = cluster.uni({"run", module_path("testfns"), "add", "1"});
  EXPECT_EQ(r.exit_code, 1) << r.describe();
  EXPECT_TRUE(contains(r.err, "expected 2 arguments, got 1")) << r.describe();
  expect_still_serving(cluster);
  CommandResult more = cluster.uni({"run", module_path("testfns"), "add", "1", "2", "3"});
  EXPECT_EQ(more.exit_code, 1) << more.describe();
  EXPECT_TRUE(contains(more.err, "expected 2 arguments, got 3")) << more.describe();
  expect_still_serving(cluster);
}

TEST(BadInput, WrongArgumentTypeNamesTheArgumentAndBothTypes) {
  TestCluster cluster;
  CommandResult r = cluster.uni({"run", module_path("testfns"), "add", "1", "ab"});
  EXPECT_EQ(r.exit_code, 1) << r.describe();
  EXPECT_TRUE(contains(r.err, "argument 2: expected integer, got string")) << r.describe();
  expect_still_serving(cluster);

  // Through the C++ API, a caller's wrong signature is the same kind of error.
  uni::Cluster boss = cluster.connect();
  auto f = boss.function<std::string(std::string)>(module_path("testfns"), "add")("x");
  ASSERT_TRUE(f.wait_for(30s));
  try {
    f.get();
    ADD_FAILURE() << "add(\"x\") returned";
  } catch (const TaskError& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kBadArguments) << e.what();
  }
}

// The manager refuses a task with an empty function name; it used to log
// "malformed message" and leave its boss waiting for ever.
TEST(BadInput, EmptyFunctionNameIsRefusedAndTheCallerTold) {
  TestCluster cluster;
  CommandResult r = cluster.uni({"run", module_path("testfns"), "", "5"}, {.timeout = 30s});
  EXPECT_FALSE(r.timed_out) << "uni run hung\n" << r.describe();
  EXPECT_EQ(r.exit_code, 1) << r.describe();
  EXPECT_TRUE(contains(r.err, "rejected")) << r.describe();
  EXPECT_TRUE(contains(r.err, "empty function name")) << r.describe();

  CommandResult spawned = cluster.uni({"spawn", module_path("testfns"), "", "5"}, {.timeout = 30s});
  EXPECT_EQ(spawned.exit_code, 1) << spawned.describe();
  EXPECT_TRUE(contains(spawned.err, "empty function name")) << spawned.describe();

  // Through the API, in one batch with a good task: the bad one fails, the
  // good one runs.
  uni::Cluster boss = cluster.connect();
  auto bad = boss.function<int(int, int)>(module_path("testfns"), "");
  auto add = boss.function<int(int, int)>(module_path("testfns"), "add");
  Future<int> refused = bad(1, 2);
  Future<int> fine = add(1, 2);
  ASSERT_TRUE(refused.wait_for(20s)) << "the future of a refused task never resolved";
  try {
    refused.get();
    ADD_FAILURE() << "a task with an empty function name returned";
  } catch (const TaskError& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kRejected) << e.what();
    EXPECT_TRUE(contains(e.what(), "empty function name")) << e.what();
  }
  ASSERT_TRUE(fine.wait_for(20s));
  EXPECT_EQ(fine.get(), 3);
  expect_still_serving(cluster);
}

TEST(ApiMisuse, AnEmptyFutureThrowsUniErrorInsteadOfCrashing) {
  Future<int> empty;
  EXPECT_FALSE(empty.valid());
  try {
    empty.get();
    ADD_FAILURE() << "get() on an empty Future returned";
  } catch (const TaskError& e) {
    ADD_FAILURE() << "a TaskError for a Future with no task: " << e.what();
  } catch (const Error& e) {
    EXPECT_TRUE(contains(e.what(), "refers to no task")) << e.what();
  }
  EXPECT_THROW(empty.wait(), Error);
  EXPECT_THROW(empty.wait_for(1ms), Error);
  EXPECT_THROW(empty.ready(), Error);
  EXPECT_THROW(empty.worker(), Error);
  EXPECT_THROW(empty.id(), Error);
  EXPECT_THROW(empty.cancel(), Error);
  Future<void> nothing;
  EXPECT_THROW(nothing.get(), Error);
}

TEST(BadInput, FileThatIsNotASharedObjectIsRefusedLocally) {
  TestCluster cluster;
  std::filesystem::path bogus = cluster.dir().write("notes.so", "these are notes, not code\n");
  CommandResult r = cluster.uni({"run", bogus.string(), "f"});
  EXPECT_EQ(r.exit_code, 2) << r.describe();
  EXPECT_TRUE(contains(r.err, bogus.string())) << r.describe();
  EXPECT_TRUE(contains(r.err, "not a shared object")) << r.describe();
  expect_still_serving(cluster);

  uni::Cluster boss = cluster.connect();
  EXPECT_THROW(boss.function<int()>(bogus.string(), "f"), ModuleError);
}

TEST(BadInput, SharedObjectThatIsNotAUniModuleIsRefusedLocally) {
  // The libz this test links: a real shared object without uni's entry point.
  Dl_info info{};
  ASSERT_NE(::dladdr(reinterpret_cast<const void*>(&::zlibVersion), &info), 0);
  ASSERT_NE(info.dli_fname, nullptr);
  std::string libz = info.dli_fname;
  ASSERT_TRUE(contains(libz, "libz.so")) << libz;

  TestCluster cluster;
  CommandResult r = cluster.uni({"run", libz, "zlibVersion"});
  EXPECT_EQ(r.exit_code, 2) << r.describe();
  EXPECT_TRUE(contains(r.err, "not a uni module")) << r.describe();
  expect_still_serving(cluster);
}

TEST(BadInput, MissingModuleFileIsAUsageError) {
  TestCluster cluster;
  std::string missing = (cluster.dir() / "missing.so").string();
  CommandResult r = cluster.uni({"run", missing, "f"});
  EXPECT_EQ(r.exit_code, 2) << r.describe();
  EXPECT_TRUE(contains(r.err, missing)) << r.describe();
  expect_still_serving(cluster);
}

TEST(BadInput, TaskThatThrowsCarriesItsWhat) {
  TestCluster cluster;
  CommandResult r = cluster.uni({"run", module_path("testfns"), "fail", "the reason"});
  EXPECT_EQ(r.exit_code, 1) << r.describe();
  EXPECT_TRUE(contains(r.err, "boom: the reason")) << r.describe();
  expect_still_serving(cluster);

  uni::Cluster boss = cluster.connect();
  auto f = boss.function<int(std::string)>(module_path("testfns"), "fail")("via the api");
  ASSERT_TRUE(f.wait_for(30s));
  try {
    f.get();
    ADD_FAILURE() << "fail() returned";
  } catch (const TaskError& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kException);
    EXPECT_TRUE(contains(e.what(), "boom: via the api")) << e.what();
    EXPECT_FALSE(e.worker().id.empty()) << "a task error should name its worker";
  }
}

// Under --isolation thread tasks share the worker's process: an exception or
// bad arguments must still be a task error, not the end of the worker.
TEST(BadInput, FailuresUnderThreadIsolationLeaveTheWorkerRunning) {
  TestCluster cluster({.workers = 1, .slots = 2, .worker_args = {"--isolation", "thread"}});
  ChildProcess& worker = cluster.worker(0);
  CommandResult threw = cluster.uni({"run", module_path("testfns"), "fail", "in a thread"});
  EXPECT_EQ(threw.exit_code, 1) << threw.describe();
  EXPECT_TRUE(contains(threw.err, "boom: in a thread")) << threw.describe();
  CommandResult args = cluster.uni({"run", module_path("testfns"), "add", "x", "1"});
  EXPECT_EQ(args.exit_code, 1) << args.describe();
  EXPECT_TRUE(contains(args.err, "argument 1: expected integer, got string")) << args.describe();
  CommandResult unknown = cluster.uni({"run", module_path("testfns"), "nope"});
  EXPECT_EQ(unknown.exit_code, 1) << unknown.describe();
  expect_still_serving(cluster);
  EXPECT_TRUE(worker.running()) << worker.read_stderr();
  nlohmann::json w = cluster.worker_status(worker.pid());
  ASSERT_TRUE(w.is_object());
  EXPECT_EQ(w.value("isolation", ""), "thread");
}

TEST(NoWorker, TaskWaitsSaysSoOnStderrAndRunsWhenAWorkerJoins) {
  TestCluster cluster({.workers = 0});
  ChildProcess run = cluster.start(
      "run-waiting", {uni_binary(), "run", module_path("factorial"), "factorial", "5"});
  // The manager sends its notice after about 2 s.
  EXPECT_TRUE(run.wait_for_stderr("no worker", 15s))
      << "no notice on stderr while waiting; stderr: " << run.read_stderr();
  EXPECT_TRUE(run.running()) << "uni run gave up: " << run.read_stderr();
  cluster.add_worker(1);
  std::optional<ExitStatus> status = run.wait_for(30s);
  ASSERT_TRUE(status) << "the waiting task did not complete after a worker joined";
  EXPECT_EQ(status->code, 0) << run.read_stderr();
  EXPECT_EQ(run.read_stdout(), "120\n");
}

TEST(NoWorker, WaitLimitFailsSayingNoWorkerTookIt) {
  TestCluster cluster({.workers = 0});
  CommandResult r = cluster.uni({"run", "--wait", "1", module_path("factorial"), "factorial", "5"},
                                {.timeout = 20s});
  EXPECT_EQ(r.exit_code, 1) << r.describe();
  EXPECT_TRUE(contains(r.err, "no worker")) << r.describe();
  EXPECT_TRUE(contains(r.err, "took it within 1 s")) << r.describe();
  // A fraction of a second is accepted too.
  CommandResult frac = cluster.uni(
      {"run", "--wait", "0.5", module_path("factorial"), "factorial", "5"}, {.timeout = 20s});
  EXPECT_EQ(frac.exit_code, 1) << frac.describe();
  EXPECT_TRUE(contains(frac.err, "no worker")) << frac.describe();
}

TEST(Connect, WrongAuthkeyExitsWithCode3WithinFiveSeconds) {
  TestCluster cluster;
  CommandResult r = cluster.uni({"run", module_path("factorial"), "factorial", "5"},
                                {.timeout = 20s, .env = {"UNI_AUTHKEY=not-the-key"}});
  EXPECT_EQ(r.exit_code, 3) << r.describe();
  EXPECT_TRUE(contains(r.err, "authentication failed")) << r.describe();
  EXPECT_LT(r.elapsed, 5s) << r.describe();
  CommandResult status = cluster.uni({"status"}, {.timeout = 20s, .env = {"UNI_AUTHKEY=nope"}});
  EXPECT_EQ(status.exit_code, 3) << status.describe();
  expect_still_serving(cluster);
  // The manager says so too (it used to log nothing).
  EXPECT_TRUE(cluster.manager().wait_for_stderr("failed to authenticate", 15s))
      << cluster.manager().read_stderr();

  ConnectOptions options;
  options.authkey = "also-wrong";
  try {
    cluster.connect(options);
    ADD_FAILURE() << "connected with a wrong authkey";
  } catch (const ConnectError& e) {
    EXPECT_EQ(e.reason(), ConnectError::Reason::kAuthFailed) << e.what();
  }
}

TEST(Connect, NoManagerAtTheAddressExitsWithCode3) {
  TestCluster cluster;
  int port = free_tcp_port();
  std::string nowhere = "tcp://127.0.0.1:" + std::to_string(port);
  CommandResult r = cluster.uni({"run", module_path("factorial"), "factorial", "5"},
                                {.timeout = 30s, .env = {"UNI_CONNECT=" + nowhere}});
  EXPECT_EQ(r.exit_code, 3) << r.describe();
  EXPECT_TRUE(contains(r.err, std::to_string(port))) << "the error should name the address\n"
                                                     << r.describe();
  CommandResult flag = cluster.uni({"status", "--connect", nowhere}, {.timeout = 30s});
  EXPECT_EQ(flag.exit_code, 3) << flag.describe();
}

// An empty key file is a local mistake (exit 2, like a bad flag), not a
// failed authentication (3).
TEST(Connect, EmptyAuthkeyFileIsALocalErrorExitCode2) {
  TestCluster cluster;
  std::filesystem::path empty = cluster.dir().write("empty.key", "");
  CommandResult r = cluster.uni({"status", "--authkey-file", empty.string()});
  EXPECT_EQ(r.exit_code, 2) << r.describe();
  EXPECT_TRUE(contains(r.err, "is empty")) << r.describe();
  CommandResult run = cluster.uni(
      {"run", "--authkey-file", empty.string(), module_path("testfns"), "add", "1", "2"});
  EXPECT_EQ(run.exit_code, 2) << run.describe();

  ConnectOptions options;
  options.authkey_file = empty.string();
  try {
    cluster.connect(options);
    ADD_FAILURE() << "connected with an empty key file";
  } catch (const ConnectError& e) {
    ADD_FAILURE() << "a ConnectError for a local problem: " << e.what();
  } catch (const Error& e) {
    EXPECT_TRUE(contains(e.what(), "is empty")) << e.what();
  }
}

// A boss whose manager is killed is told what it waits for, and gets its
// result once the manager is back (the worker kept running the task).
TEST(ManagerGone, AWaitingBossSaysItWaitsForTheManagerAndFinishesWhenItIsBack) {
  TestCluster cluster({.workers = 1, .slots = 1});
  ChildProcess run = cluster.start(
      "run-waiting", {uni_binary(), "run", module_path("testfns"), "sleep_ms", "6000"});
  nlohmann::json status;
  for (int i = 0; i < 100; ++i) {
    status = cluster.status();
    if (status.is_object() && status["workers"][0].value("busy", 0) == 1) break;
    std::this_thread::sleep_for(100ms);
  }
  ASSERT_EQ(status["workers"][0].value("busy", 0), 1) << status.dump();
  cluster.kill_manager();
  cluster.manager().wait_for(10s);
  EXPECT_TRUE(run.wait_for_stderr("waiting for it to come back", 20s)) << run.read_stderr();
  EXPECT_TRUE(run.running()) << run.read_stderr();
  cluster.restart_manager();
  std::optional<ExitStatus> exit = run.wait_for(60s);
  ASSERT_TRUE(exit) << "uni run did not finish after the manager came back\n" << run.read_stderr();
  EXPECT_EQ(exit->code, 0) << run.read_stderr();
  EXPECT_EQ(run.read_stdout(), "6000\n");
  EXPECT_TRUE(contains(run.read_stderr(), "answers again")) << run.read_stderr();
}

TEST(Logging, DebugLevelShowsTheKeyTheConnectionAndTheRequests) {
  TestCluster cluster;
  CommandResult status = cluster.uni({"status"}, {.env = {"UNI_LOG_LEVEL=debug"}});
  EXPECT_EQ(status.exit_code, 0) << status.describe();
  EXPECT_TRUE(contains(status.err, "authkey: from $UNI_AUTHKEY")) << status.describe();
  EXPECT_TRUE(contains(status.err, "connected to the manager at " + cluster.address()))
      << status.describe();
  EXPECT_TRUE(contains(status.err, "its status")) << status.describe();
  CommandResult run = cluster.uni({"run", module_path("testfns"), "add", "1", "2"},
                                  {.env = {"UNI_LOG_LEVEL=debug"}});
  EXPECT_EQ(run.exit_code, 0) << run.describe();
  EXPECT_EQ(run.out, "3\n") << run.describe();
  EXPECT_TRUE(contains(run.err, "submitting 1 task(s)")) << run.describe();
  EXPECT_TRUE(contains(run.err, "uploading")) << run.describe();
  EXPECT_TRUE(contains(run.err, ": ok from worker")) << run.describe();
  // Without it, a successful command prints nothing on stderr.
  CommandResult quiet = cluster.uni({"run", module_path("testfns"), "add", "1", "2"});
  EXPECT_EQ(quiet.err, "") << quiet.describe();
}

}  // namespace
}  // namespace uni::test
