// Cancellation: a queued task is dropped, a running one stopped (its executor
// killed, the worker unharmed); `uni stop` does the same by id, and Ctrl-C on
// `uni run` / `uni map` cancels what that command had outstanding.
#include <csignal>

#include "fault_support.hpp"

namespace uni::test {
namespace {

TEST(Cancel, AQueuedTaskIsDroppedAndARunningOneStopped) {
  TestCluster cluster({.workers = 1, .slots = 1});
  pid_t worker = cluster.worker(0).pid();
  uni::Cluster boss = cluster.connect();
  auto slow = boss.function<int(int, int)>(module_path("faults"), "slow");
  auto running = slow(1, 30000);
  auto queued = slow(2, 30000);
  ASSERT_TRUE(wait_status(cluster, [](const nlohmann::json& s) { return s["running"] >= 1; }));
  auto start = std::chrono::steady_clock::now();
  queued.cancel();
  running.cancel();
  for (auto* f : {&queued, &running}) {
    ASSERT_TRUE(f->wait_for(10s)) << "a cancelled task did not finish";
    try {
      f->get();
      ADD_FAILURE() << "a cancelled task returned a result";
    } catch (const TaskError& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kCancelled) << e.what();
    }
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
  try {
    queued.get();
  } catch (const TaskError& e) {
    EXPECT_TRUE(contains(e.what(), "before it started")) << e.what();
  }
  try {
    running.get();
  } catch (const TaskError& e) {
    EXPECT_TRUE(contains(e.what(), "while running")) << e.what();
  }
  EXPECT_TRUE(process_alive(worker));
  expect_still_serving(cluster);
}

TEST(Cancel, UniStopCancelsATaskById) {
  TestCluster cluster({.workers = 1, .slots = 1});
  uni::Cluster boss = cluster.connect();
  auto task = boss.function<int(int, int)>(module_path("faults"), "slow")(1, 30000);
  ASSERT_TRUE(wait_status(cluster, [](const nlohmann::json& s) { return s["running"] == 1; }));
  CommandResult stop = cluster.uni({"stop", task.id()});
  EXPECT_EQ(stop.exit_code, 0) << stop.describe();
  ASSERT_TRUE(task.wait_for(10s));
  EXPECT_THROW(task.get(), TaskError);
  CommandResult unknown = cluster.uni({"stop", "0000000000000001-1"});
  EXPECT_EQ(unknown.exit_code, 1) << unknown.describe();
  EXPECT_TRUE(contains(unknown.err, "no task or service")) << unknown.describe();
  CommandResult garbage = cluster.uni({"stop", "not-an-id"});
  EXPECT_EQ(garbage.exit_code, 2) << garbage.describe();
}

TEST(Cancel, CtrlCOnUniRunCancelsItsTask) {
  TestCluster cluster({.workers = 1, .slots = 1});
  ChildProcess run =
      start_uni(cluster, "run", {"run", module_path("faults"), "slow", "1", "60000"});
  ASSERT_TRUE(wait_status(cluster, [](const nlohmann::json& s) { return s["running"] == 1; }));
  run.signal(SIGINT);
  auto status = run.wait_for(10s);
  ASSERT_TRUE(status.has_value()) << "uni run ignored Ctrl-C";
  EXPECT_EQ(status->code, 128 + SIGINT) << run.read_stderr();
  EXPECT_TRUE(contains(run.read_stderr(), "cancelling 1")) << run.read_stderr();
  // The task stopped on the worker: its slot is free again.
  EXPECT_TRUE(wait_status(
      cluster, [](const nlohmann::json& s) { return s["running"] == 0; }, 10s));
  expect_still_serving(cluster);
}

TEST(Cancel, CtrlCOnUniMapCancelsEverythingOutstanding) {
  TestCluster cluster({.workers = 1, .slots = 1});
  ChildProcess map = start_uni(cluster, "map",
                               {"map", module_path("faults"), "slow", "--input",
                                cluster.dir().write("in.jsonl", slow_inputs(8, 30000)).string()});
  ASSERT_TRUE(wait_status(cluster, [](const nlohmann::json& s) { return s["running"] == 1; }));
  map.signal(SIGINT);
  auto status = map.wait_for(10s);
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->code, 128 + SIGINT);
  EXPECT_TRUE(wait_status(
      cluster, [](const nlohmann::json& s) { return s["running"] == 0 && s["queue"] == 0; }, 10s))
      << cluster.status().dump();
  expect_still_serving(cluster);
}

// Ctrl-C of a map of 30,000 queued tasks took 3.5-6.5 s, and a second
// Ctrl-C left the tasks queued until the manager gave up on the boss
// (--boss-grace, 60 s). Both now withdraw them, at once.
TEST(Cancel, CtrlCOfABigMapWithdrawsItAtOnceEvenWhenPressedTwice) {
  TestCluster cluster({.workers = 1, .slots = 1});
  std::string input = cluster.dir().write("in.jsonl", slow_inputs(30000, 60000)).string();
  for (int presses : {1, 2}) {
    ChildProcess map = start_uni(
        cluster, "map", {"map", "--quiet", module_path("faults"), "slow", "--input", input});
    ASSERT_TRUE(wait_status(
        cluster, [](const nlohmann::json& s) { return s["queue"] >= 29000; }, 60s))
        << cluster.status().dump();
    auto start = std::chrono::steady_clock::now();
    map.signal(SIGINT);
    if (presses == 2) {
      std::this_thread::sleep_for(20ms);
      map.signal(SIGINT);
    }
    auto status = map.wait_for(20s);
    ASSERT_TRUE(status.has_value()) << "uni map ignored Ctrl-C";
    EXPECT_EQ(status->code, 128 + SIGINT) << map.read_stderr();
    EXPECT_LT(std::chrono::steady_clock::now() - start, 3s) << map.read_stderr();
    EXPECT_TRUE(wait_status(
        cluster, [](const nlohmann::json& s) { return s["queue"] == 0 && s["running"] == 0; }, 10s))
        << presses << " Ctrl-C: " << cluster.status().dump() << "\n"
        << map.read_stderr();
    if (presses == 2) {
      EXPECT_TRUE(contains(map.read_stderr(), "withdrawing this command's tasks"))
          << map.read_stderr();
    }
  }
  expect_still_serving(cluster);
}

TEST(Cancel, StoppingAServiceFreesItsSlot) {
  TestCluster cluster({.workers = 1, .slots = 1});
  uni::Cluster boss = cluster.connect();
  auto service = boss.spawn(boss.function<int(int, int)>(module_path("faults"), "slow"), 1, 60000);
  ASSERT_TRUE(
      wait_status(cluster, [](const nlohmann::json& s) { return s["services"].size() == 1; }));
  service.stop();
  ASSERT_TRUE(service.future().wait_for(10s));
  try {
    service.get();
    ADD_FAILURE() << "a stopped service returned";
  } catch (const TaskError& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kCancelled);
  }
  EXPECT_TRUE(wait_status(cluster, [](const nlohmann::json& s) { return s["services"].empty(); }));
  expect_still_serving(cluster);
}

// The CANCEL never reaches the worker (frozen), which is then lost: the task
// must end cancelled, not be requeued and run to a result elsewhere.
TEST(Cancel, ARunningTaskWhoseWorkerIsLostStaysCancelled) {
  TestCluster cluster({.workers = 2, .slots = 1, .manager_args = {"--heartbeat-timeout", "1"}});
  uni::Cluster boss = cluster.connect();
  // Long enough to be seen running by status polls, slow under the sanitizers.
  auto task = boss.function<int(int, int)>(module_path("faults"), "slow")(7, 10000);
  std::size_t running_on = 2;
  ASSERT_TRUE(wait_status(cluster, [&](const nlohmann::json&) {
    for (std::size_t i = 0; i < 2; ++i) {
      nlohmann::json w = cluster.worker_status(cluster.worker(i).pid());
      if (w.is_object() && w.value("busy", 0) == 1) running_on = i;
    }
    return running_on < 2;
  }));
  cluster.worker(running_on).kill(SIGSTOP);
  task.cancel();
  cluster.kill_worker(running_on, SIGKILL);
  ASSERT_TRUE(task.wait_for(20s)) << "the cancelled task never ended";
  try {
    int value = task.get();
    ADD_FAILURE() << "the cancelled task was run again and returned " << value;
  } catch (const TaskError& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kCancelled) << e.what();
    EXPECT_TRUE(contains(e.what(), "cancelled while running")) << e.what();
  }
  expect_still_serving(cluster);
}

}  // namespace
}  // namespace uni::test
