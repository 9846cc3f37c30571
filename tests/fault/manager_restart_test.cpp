// The manager can die and come back: workers and bosses reconnect by
// themselves, bosses resubmit what has no result, workers re-announce what
// they run, and no result is lost or delivered twice; a running service is
// not started a second time. A manager stopped with SIGTERM says so first. A
// worker started before its manager waits for it, and says what it waits for.
#include <csignal>

#include "echo.hpp"
#include "fault_support.hpp"
#include "net.hpp"

namespace uni::test {
namespace {

TEST(ManagerRestart, MapOfSixteenSlowTasksSurvivesKillNineAndRestart) {
  TestCluster cluster({.workers = 2, .slots = 2});
  ChildProcess map = start_uni(cluster, "map",
                               {"map", module_path("faults"), "slow", "--input",
                                cluster.dir().write("in.jsonl", slow_inputs(16, 800)).string()});
  ASSERT_TRUE(wait_status(cluster, [](const nlohmann::json& s) { return s["running"] >= 2; }));
  cluster.kill_manager(SIGKILL);
  ASSERT_TRUE(cluster.manager().wait_for(5s).has_value());
  std::this_thread::sleep_for(500ms);
  cluster.restart_manager();
  auto status = map.wait_for(60s);
  ASSERT_TRUE(status.has_value()) << "the map never finished after the restart";
  EXPECT_EQ(status->code, 0) << map.read_stderr();
  CommandResult r;
  r.out = map.read_stdout();
  expect_each_result_once(r, 16);
  EXPECT_TRUE(cluster.wait_for_worker_count(2));
  expect_still_serving(cluster);
}

TEST(ManagerRestart, ARunningServiceIsReannouncedNotStartedTwice) {
  TestCluster cluster({.workers = 2, .slots = 1});
  int port = free_tcp_port();
  CommandResult spawn = cluster.uni({"spawn", module_path("echo"), "server", std::to_string(port)});
  ASSERT_EQ(spawn.exit_code, 0) << spawn.describe();
  std::string id = spawn.lines().at(0);

  // A boss of the C++ API with its own service: it resubmits after the restart.
  uni::Cluster boss = cluster.connect();
  int boss_port = free_tcp_port();
  uni::Service<int> service = boss.spawn(server, boss_port);
  TcpClient::connect(boss_port).close();

  cluster.kill_manager(SIGKILL);
  ASSERT_TRUE(cluster.manager().wait_for(5s).has_value());
  cluster.restart_manager();
  ASSERT_TRUE(cluster.wait_for_worker_count(2));
  // Past the recovery window: both services listed once each, on their workers.
  std::this_thread::sleep_for(3s);
  nlohmann::json s = cluster.status();
  ASSERT_EQ(s["services"].size(), 2u) << s.dump();
  std::set<std::string> ids;
  for (const auto& svc : s["services"]) ids.insert(svc["id"].get<std::string>());
  EXPECT_TRUE(ids.count(id)) << s.dump();
  EXPECT_TRUE(ids.count(service.id())) << s.dump();

  // Both still serve, each as the one original copy.
  for (int p : {port, boss_port}) {
    TcpClient c = TcpClient::connect(p);
    ASSERT_TRUE(c.send_line("ping"));
    EXPECT_EQ(c.read_line(), "ping");
  }
  TcpClient quit = TcpClient::connect(boss_port);
  quit.send_line("QUIT");
  ASSERT_TRUE(service.future().wait_for(20s));
  EXPECT_EQ(service.get(), boss_port);
  CommandResult stop = cluster.uni({"stop", id});
  EXPECT_EQ(stop.exit_code, 0) << stop.describe();
}

TEST(ManagerRestart, SigtermToTheManagerTellsItsPeersFirst) {
  TestCluster cluster({.workers = 1, .slots = 1});
  ExitStatus stopped = cluster.stop_manager();
  EXPECT_FALSE(stopped.signaled) << "the manager did not exit on SIGTERM by itself";
  EXPECT_TRUE(cluster.worker(0).wait_for_stderr("going away", 5s))
      << cluster.worker(0).read_stderr() << "\nmanager: " << cluster.manager().read_stderr();
  // The worker waits for it and rejoins when it is back.
  cluster.restart_manager();
  EXPECT_TRUE(cluster.wait_for_worker_count(1));
  expect_still_serving(cluster);
}

TEST(ManagerRestart, AManagerBackWithAnotherAuthkeyIsReportedByItsWorker) {
  TestCluster cluster({.workers = 1, .slots = 1});
  cluster.kill_manager(SIGKILL);
  ChildProcess impostor = start_uni(
      cluster, "manager", {"manager", "--listen", cluster.address(), "--authkey", "another key"});
  EXPECT_TRUE(cluster.worker(0).wait_for_stderr("authentication failed", 20s))
      << cluster.worker(0).read_stderr() << "\nmanager: " << impostor.read_stderr();
  EXPECT_TRUE(process_alive(cluster.worker(0).pid())) << "the worker gave up instead of retrying";
}

TEST(ManagerRestart, AWorkerStartedBeforeItsManagerWaitsForItAndSaysSo) {
  TestCluster cluster({.workers = 0});
  cluster.stop_manager();
  ChildProcess& worker = cluster.add_worker(1, {}, false);
  EXPECT_TRUE(worker.wait_for_stderr("waiting for a manager at " + cluster.address(), 20s))
      << worker.read_stderr();
  // Past the 5 s after which it used to give up, it still waits.
  std::this_thread::sleep_for(6s);
  EXPECT_TRUE(worker.running()) << describe(worker.status()) << "\n" << worker.read_stderr();
  cluster.restart_manager();
  EXPECT_TRUE(cluster.wait_for_worker(worker.pid(), 30s));
  expect_still_serving(cluster);
}

// A worker that waited 4 s and more for its manager was declared gone ("no
// heartbeat for 3 s") as soon as the manager came up, and rejoined only 4-7 s
// later. It must join once, stay, and take a task at once.
TEST(ManagerRestart, AWorkerThatWaitedForItsManagerIsNeverDeclaredGone) {
  // The manager comes up at two points of the worker's 2 s connect attempts.
  for (auto delay : {5000ms, 6000ms}) {
    SCOPED_TRACE("manager started " + std::to_string(delay.count()) + " ms after the worker");
    TestCluster cluster({.workers = 0});
    cluster.stop_manager();
    auto started = std::chrono::steady_clock::now();
    ChildProcess& worker = cluster.add_worker(1, {}, false);
    std::this_thread::sleep_until(started + delay);
    cluster.restart_manager();
    ASSERT_TRUE(cluster.wait_for_worker(worker.pid(), 30s)) << worker.read_stderr();
    auto asked = std::chrono::steady_clock::now();
    CommandResult r = cluster.uni({"run", module_path("testfns"), "add", "2", "3"});
    EXPECT_EQ(r.exit_code, 0) << r.describe();
    EXPECT_EQ(r.out, "5\n") << r.describe();
    EXPECT_LT(std::chrono::steady_clock::now() - asked, 3s) << "the task waited for the worker\n"
                                                            << cluster.manager().read_stderr();
    // Past the heartbeat timeout and then some: still there, never gone.
    std::this_thread::sleep_for(4s);
    nlohmann::json s = cluster.status();
    ASSERT_EQ(s["workers"].size(), 1u) << s.dump();
    EXPECT_GE(s["workers"][0].value("uptime_ms", 0), 4000) << s.dump();
    const std::string log = cluster.manager().read_stderr();
    EXPECT_FALSE(contains(log, " gone: ")) << log;
    EXPECT_FALSE(contains(log, " lost: ")) << log;
    EXPECT_FALSE(contains(log, "reconnected")) << log;
  }
}

TEST(ManagerRestart, AWorkerWithAConnectTimeoutGivesUpWithExitThree) {
  TestCluster cluster({.workers = 0});
  cluster.stop_manager();
  ChildProcess& worker = cluster.add_worker(1, {"--connect-timeout", "1"}, false);
  auto status = worker.wait_for(20s);
  ASSERT_TRUE(status.has_value()) << "the worker did not give up";
  EXPECT_EQ(status->code, 3) << describe(status) << "\n" << worker.read_stderr();
  EXPECT_TRUE(contains(worker.read_stderr(), "cannot connect to " + cluster.address()))
      << worker.read_stderr();
}

}  // namespace
}  // namespace uni::test
