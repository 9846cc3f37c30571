// `uni spawn` as a user meets it: a function that returns at once is reported
// like `uni run` would; --wait, --timeout and --max-attempts work; a service
// that waits for a worker is listed (with its id) by `uni status`, and Ctrl-C
// withdraws it — also one its worker had already lined up behind a busy task;
// it learns that its service started from the manager, without polling;
// `uni stop` returns once the service has ended and its port is free.
#include <gtest/gtest.h>

#include <thread>

#include "net.hpp"
#include "test_cluster.hpp"

namespace uni::test {
namespace {

using namespace std::chrono_literals;

// Polls `uni status` until `done(status)`; the last status seen.
template <class Done>
nlohmann::json wait_status(TestCluster& cluster, Done done,
                           std::chrono::milliseconds timeout = 20s) {
  nlohmann::json status;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  do {
    status = cluster.status();
    if (status.is_object() && done(status)) break;
    std::this_thread::sleep_for(100ms);
  } while (std::chrono::steady_clock::now() < deadline);
  return status;
}

nlohmann::json service_with_id(const nlohmann::json& status, const std::string& id) {
  for (const auto& s : status.value("services", nlohmann::json::array()))
    if (s.value("id", "") == id) return s;
  return nullptr;
}

TEST(Spawn, AFunctionThatReturnsAtOncePrintsItsJsonResultLikeRun) {
  TestCluster cluster({.workers = 1, .slots = 1});
  CommandResult r = cluster.uni({"spawn", module_path("testfns"), "reversed", "[1,2,3]"});
  EXPECT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_EQ(r.out, "[3,2,1]\n") << r.describe();
  EXPECT_TRUE(contains(r.err, "returned at once")) << r.describe();
  EXPECT_TRUE(cluster.status()["services"].empty());
}

TEST(Spawn, WaitLimitFailsAServiceNoWorkerTakes) {
  TestCluster cluster({.workers = 0});
  CommandResult r = cluster.uni(
      {"spawn", "--wait", "0.5", module_path("echo"), "server", std::to_string(free_tcp_port())},
      {.timeout = 30s});
  EXPECT_EQ(r.exit_code, 1) << r.describe();
  EXPECT_TRUE(contains(r.err, "no worker")) << r.describe();
  EXPECT_TRUE(contains(r.err, "within 0.5 s")) << r.describe();
  EXPECT_TRUE(cluster.status()["services"].empty());
}

TEST(Spawn, TimeoutAndMaxAttemptsApplyToTheService) {
  TestCluster cluster({.workers = 1, .slots = 1});
  // Options may also follow MODULE, as with uni run.
  CommandResult r = cluster.uni({"spawn", module_path("testfns"), "sleep_ms", "60000", "--timeout",
                                 "1", "--max-attempts", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  ASSERT_EQ(r.lines().size(), 1u) << r.describe();
  const std::string id = r.lines()[0];
  // The run-time limit stops the service (a minute's sleep) after a second.
  nlohmann::json status = wait_status(
      cluster, [&](const nlohmann::json& s) { return service_with_id(s, id).is_null(); });
  EXPECT_TRUE(service_with_id(status, id).is_null()) << status.dump();
  CommandResult bad = cluster.uni({"spawn", "--max-attempts", "0", module_path("testfns"), "add"});
  EXPECT_EQ(bad.exit_code, 2) << bad.describe();
}

TEST(Spawn, CtrlCWithdrawsAServiceThatWaitsForAWorker) {
  TestCluster cluster({.workers = 0});
  const int port = free_tcp_port();
  ChildProcess spawn = cluster.start(
      "spawn", {uni_binary(), "spawn", module_path("echo"), "server", std::to_string(port)});
  EXPECT_TRUE(spawn.wait_for_stderr("no worker", 15s)) << spawn.read_stderr();

  // Queued, and listed with its id: whoever sees it can stop it.
  nlohmann::json status =
      wait_status(cluster, [](const nlohmann::json& s) { return s["services"].size() == 1; });
  ASSERT_EQ(status["services"].size(), 1u) << status.dump();
  const nlohmann::json service = status["services"][0];
  EXPECT_EQ(service.value("state", ""), "queued") << status.dump();
  EXPECT_EQ(service.value("function", ""), "server") << status.dump();
  const std::string id = service.value("id", "");
  CommandResult text = cluster.uni({"status"});
  EXPECT_TRUE(contains(text.out, id)) << text.describe();
  EXPECT_TRUE(contains(text.out, "queued")) << text.describe();

  spawn.signal(SIGINT);
  std::optional<ExitStatus> exit = spawn.wait_for(15s);
  ASSERT_TRUE(exit) << "uni spawn did not end after SIGINT";
  EXPECT_EQ(exit->code, 128 + SIGINT) << exit->describe() << "\n" << spawn.read_stderr();
  EXPECT_TRUE(contains(spawn.read_stderr(), id)) << spawn.read_stderr();
  EXPECT_TRUE(cluster.status()["services"].empty()) << cluster.status().dump();

  // A worker that joins now has nothing to start.
  cluster.add_worker(1);
  std::this_thread::sleep_for(1s);
  EXPECT_TRUE(cluster.status()["services"].empty()) << cluster.status().dump();
  EXPECT_FALSE(tcp_port_accepting(port)) << "the withdrawn service runs";
}

// A `uni spawn` killed outright cannot withdraw its service; the id that
// `uni status` shows lets anyone stop it.
TEST(Spawn, AQueuedServiceOfAKilledSpawnIsStoppedByTheIdStatusShows) {
  TestCluster cluster({.workers = 0});
  const int port = free_tcp_port();
  ChildProcess spawn = cluster.start(
      "spawn", {uni_binary(), "spawn", module_path("echo"), "server", std::to_string(port)});
  nlohmann::json status =
      wait_status(cluster, [](const nlohmann::json& s) { return s["services"].size() == 1; });
  ASSERT_EQ(status["services"].size(), 1u) << status.dump();
  spawn.kill(SIGKILL);
  spawn.wait_for(10s);
  const std::string id = status["services"][0].value("id", "");
  EXPECT_EQ(service_with_id(cluster.status(), id).value("state", ""), "queued");

  CommandResult stop = cluster.uni({"stop", id});
  EXPECT_EQ(stop.exit_code, 0) << stop.describe();
  EXPECT_TRUE(contains(stop.out, "before it started")) << stop.describe();
  EXPECT_TRUE(cluster.status()["services"].empty()) << cluster.status().dump();
  cluster.add_worker(1);
  std::this_thread::sleep_for(1s);
  EXPECT_FALSE(tcp_port_accepting(port)) << "the stopped service runs";
}

TEST(Spawn, CtrlCWithdrawsAServiceLinedUpBehindABusyTask) {
  // The slot must stay busy until uni spawn has waited 3 s and said so; a
  // sanitized uni takes seconds longer to start under load.
#if defined(__SANITIZE_ADDRESS__)
  constexpr int kBusyMs = 25000;
#else
  constexpr int kBusyMs = 7000;
#endif
  TestCluster cluster({.workers = 1, .slots = 1});
  uni::Cluster boss = cluster.connect();
  Future<int> busy = boss.function<int(int)>(module_path("testfns"), "sleep_ms")(kBusyMs);
  ASSERT_TRUE(wait_status(cluster,
                          [](const nlohmann::json& s) {
                            return s["workers"][0].value("busy", 0) == 1;
                          })["workers"][0]
                  .value("busy", 0) == 1);

  const int port = free_tcp_port();
  ChildProcess spawn = cluster.start(
      "spawn", {uni_binary(), "spawn", module_path("echo"), "server", std::to_string(port)});
  // No notice from the manager (there is a worker): uni spawn says why it waits.
  EXPECT_TRUE(spawn.wait_for_stderr("still waiting", 15s)) << spawn.read_stderr();
  spawn.signal(SIGINT);
  std::optional<ExitStatus> exit = spawn.wait_for(15s);
  ASSERT_TRUE(exit) << "uni spawn did not end after SIGINT";
  EXPECT_EQ(exit->code, 128 + SIGINT) << exit->describe() << "\n" << spawn.read_stderr();

  // The worker may have handed the service to the busy executor already,
  // which starts it once the sleep returns: it must be stopped then.
  ASSERT_TRUE(busy.wait_for(std::chrono::milliseconds(kBusyMs) + 30s));
  EXPECT_EQ(busy.get(), kBusyMs);
  nlohmann::json status = wait_status(cluster, [](const nlohmann::json& s) {
    return s["services"].empty() && s["workers"][0].value("busy", 1) == 0;
  });
  EXPECT_TRUE(status["services"].empty()) << status.dump();
  EXPECT_EQ(status["workers"][0].value("busy", 1), 0) << status.dump();
  EXPECT_FALSE(tcp_port_accepting(port)) << "the withdrawn service runs";
  // The slot is free for the next task.
  CommandResult next = cluster.uni({"run", module_path("testfns"), "add", "1", "1"});
  EXPECT_EQ(next.exit_code, 0) << next.describe();
}

// `uni stop` of a running service returns once it has ended: its port is
// closed and free, and the status no longer lists it. It returned once the
// manager had told the worker, and the port still accepted a connection.
TEST(Spawn, StopReturnsOnceTheServiceHasEndedAndItsPortIsFree) {
  TestCluster cluster({.workers = 1, .slots = 1});
  const int port = free_tcp_port();
  CommandResult spawn = cluster.uni({"spawn", module_path("echo"), "server", std::to_string(port)});
  ASSERT_EQ(spawn.exit_code, 0) << spawn.describe();
  const std::string id = spawn.lines().at(0);
  TcpClient client = TcpClient::connect(port);
  ASSERT_TRUE(client.send_line("hello"));
  ASSERT_EQ(client.read_line(10s), "hello");

  CommandResult stop = cluster.uni({"stop", id});
  EXPECT_EQ(stop.exit_code, 0) << stop.describe();
  EXPECT_EQ(stop.out, "stopped " + id + "\n") << stop.describe();
  EXPECT_FALSE(tcp_port_accepting(port)) << "the stopped service still listens";
  EXPECT_TRUE(tcp_port_free(port));
  EXPECT_TRUE(service_with_id(cluster.status(), id).is_null()) << cluster.status().dump();
  EXPECT_EQ(client.read_line(10s), std::nullopt);
}

// `uni spawn` returns when the manager says the service started
// (SERVICE_STARTED), instead of asking for the whole status until it shows.
TEST(Spawn, ReturnsWhenTheManagerSaysTheServiceStartedWithoutPollingTheStatus) {
  TestCluster cluster({.workers = 1, .slots = 1});
  CommandResult r = cluster.uni({"spawn", module_path("testfns"), "sleep_ms", "60000"},
                                {.env = {"UNI_LOG_LEVEL=debug"}});
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  ASSERT_EQ(r.lines().size(), 1u) << r.describe();
  const std::string id = r.lines()[0];
  EXPECT_FALSE(contains(r.err, "asking the manager for its status")) << r.describe();
  nlohmann::json service = service_with_id(cluster.status(), id);
  EXPECT_EQ(service.value("state", ""), "running") << service.dump();
  EXPECT_TRUE(service.value("started", false)) << service.dump();
  CommandResult stop = cluster.uni({"stop", id});
  EXPECT_EQ(stop.exit_code, 0) << stop.describe();
}

}  // namespace
}  // namespace uni::test
