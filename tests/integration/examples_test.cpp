// The two examples of the Python original on a real cluster: factorial (CLI,
// C++ API by path and by function, factorial_boss) and the echo server
// (echo_boss, cluster.spawn over real TCP, uni spawn/status/stop).
#include <gtest/gtest.h>

#include <cstdint>
#include <regex>
#include <set>
#include <thread>

#include "echo.hpp"
#include "factorial.hpp"
#include "net.hpp"
#include "test_cluster.hpp"

namespace uni::test {
namespace {

using namespace std::chrono_literals;

std::uint64_t local_factorial(int n) {
  std::uint64_t r = 1;
  for (int i = 2; i <= n; ++i) r *= static_cast<std::uint64_t>(i);
  return r;
}

// The result came from an executor of this worker: named by the worker's id
// and host, run by a child process of the worker's supervisor.
void expect_ran_on(const WorkerInfo& info, TestCluster& cluster, ChildProcess& worker) {
  nlohmann::json w = cluster.worker_status(worker.pid());
  ASSERT_TRUE(w.is_object()) << "the manager does not list worker " << worker.pid();
  EXPECT_EQ(info.id, w.value("id", ""));
  EXPECT_EQ(info.host, host_name());
  EXPECT_NE(info.pid, 0u);
  EXPECT_NE(static_cast<pid_t>(info.pid), worker.pid()) << "ran in the supervisor, not an executor";
  EXPECT_EQ(parent_pid(static_cast<pid_t>(info.pid)), worker.pid())
      << "pid " << info.pid << " is not an executor of worker " << worker.pid();
}

TEST(Factorial, CliRunPrintsTwentyFactorial) {
  TestCluster cluster;
  CommandResult r = cluster.uni({"run", module_path("factorial"), "factorial", "20"});
  EXPECT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_EQ(r.out, std::to_string(local_factorial(20)) + "\n") << r.describe();
  EXPECT_EQ(local_factorial(20), 2432902008176640000ull);
}

TEST(Factorial, ApiByModulePathComputesEveryNAndNamesTheExecutor) {
  TestCluster cluster;
  uni::Cluster boss = cluster.connect();
  auto fn = boss.function<std::uint64_t(int)>(module_path("factorial"), "factorial");
  std::vector<Future<std::uint64_t>> futures;
  for (int n = 0; n <= 20; ++n) futures.push_back(fn(n));
  for (int n = 0; n <= 20; ++n) {
    ASSERT_TRUE(futures[n].wait_for(30s)) << "factorial(" << n << ") did not finish";
    EXPECT_EQ(futures[n].get(), local_factorial(n)) << "n = " << n;
  }
  expect_ran_on(futures[20].worker(), cluster, cluster.worker(0));
}

TEST(Factorial, ApiRemoteOfALinkedFunction) {
  TestCluster cluster;
  uni::Cluster boss = cluster.connect();
  Future<std::uint64_t> f = boss.remote(factorial)(20);
  ASSERT_TRUE(f.wait_for(30s));
  EXPECT_EQ(f.get(), local_factorial(20));
  expect_ran_on(f.worker(), cluster, cluster.worker(0));
}

TEST(Factorial, OutOfRangeArgumentFailsWithTheModulesMessage) {
  TestCluster cluster;
  uni::Cluster boss = cluster.connect();
  Future<std::uint64_t> f = boss.remote(factorial)(21);
  ASSERT_TRUE(f.wait_for(30s));
  try {
    f.get();
    ADD_FAILURE() << "factorial(21) did not fail";
  } catch (const TaskError& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kException);
    EXPECT_NE(std::string(e.what()).find("n must be between 0 and 20"), std::string::npos)
        << e.what();
  }
}

TEST(Factorial, BossPrintsOneLinePerNWithValueAndExecutorPid) {
  TestCluster cluster({.workers = 2, .slots = 1});
  CommandResult r = cluster.run({bin_path("factorial_boss")});
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  std::vector<std::string> lines = r.lines();
  ASSERT_EQ(lines.size(), 9u) << r.describe();
  std::set<pid_t> supervisors = {cluster.worker(0).pid(), cluster.worker(1).pid()};
  const std::regex line_re(
      R"(^\s*(\d+)! = (\d+)\s+computed by pid (\d+) \(worker (\S+) on (\S+)\)$)");
  for (int n = 1; n <= 9; ++n) {
    std::smatch m;
    const std::string& line = lines[n - 1];
    ASSERT_TRUE(std::regex_match(line, m, line_re)) << "unexpected line: " << line;
    EXPECT_EQ(std::stoi(m[1]), n);
    EXPECT_EQ(std::stoull(m[2]), local_factorial(n)) << line;
    auto pid = static_cast<pid_t>(std::stol(m[3]));
    EXPECT_EQ(supervisors.count(pid), 0u) << "a supervisor ran the task: " << line;
    EXPECT_EQ(supervisors.count(parent_pid(pid)), 1u) << "pid is no worker's executor: " << line;
    EXPECT_EQ(m[5].str(), host_name());
  }
}

TEST(Factorial, BossTakesNumbersFromTheCommandLine) {
  TestCluster cluster;
  CommandResult r = cluster.run({bin_path("factorial_boss"), "5", "20"});
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  std::vector<std::string> lines = r.lines();
  ASSERT_EQ(lines.size(), 2u) << r.describe();
  EXPECT_NE(lines[0].find(" 5! = " + std::to_string(local_factorial(5)) + " "), std::string::npos)
      << lines[0];
  EXPECT_NE(lines[1].find("20! = " + std::to_string(local_factorial(20)) + " "), std::string::npos)
      << lines[1];
}

// ---- echo -----------------------------------------------------------------------

// Polls until nothing accepts on the port any more.
bool wait_port_closed(int port, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (tcp_port_accepting(port)) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(50ms);
  }
  return true;
}

TEST(Echo, BossTurnsTwoWorkersIntoEchoServers) {
  TestCluster cluster({.workers = 2, .slots = 1});
  int p1 = free_tcp_port(), p2 = free_tcp_port();
  while (p2 == p1) p2 = free_tcp_port();
  CommandResult r = cluster.run(
      {bin_path("echo_boss"), "--ports", std::to_string(p1) + "," + std::to_string(p2)});
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  for (int p : {p1, p2}) {
    std::string port = std::to_string(p);
    EXPECT_NE(r.out.find("port " + port + " echoed: hello, port " + port + "\n"), std::string::npos)
        << r.describe();
    EXPECT_NE(r.out.find("server returned " + port + " (ran as pid "), std::string::npos)
        << r.describe();
    EXPECT_TRUE(wait_port_closed(p, 5s)) << "port " << p << " still served";
  }
}

TEST(Echo, ApiSpawnServesTcpUntilQuitAndReturnsThePort) {
  TestCluster cluster({.workers = 1, .slots = 1});
  uni::Cluster boss = cluster.connect();
  int port = free_tcp_port();
  Service<int> service = boss.spawn(server, port);
  TcpClient client = TcpClient::connect(port, 15s);
  ASSERT_TRUE(client.send_line("hello over tcp"));
  EXPECT_EQ(client.read_line().value_or("<nothing>"), "hello over tcp");
  ASSERT_TRUE(client.send_line("second line"));
  EXPECT_EQ(client.read_line().value_or("<nothing>"), "second line");
  ASSERT_TRUE(client.send_line("QUIT"));
  ASSERT_TRUE(service.future().wait_for(10s)) << "the service did not end after QUIT";
  EXPECT_EQ(service.get(), port);
  expect_ran_on(service.future().worker(), cluster, cluster.worker(0));
  EXPECT_TRUE(wait_port_closed(port, 5s));
}

TEST(Echo, ApiStopEndsTheServiceAndFreesItsSlot) {
  TestCluster cluster({.workers = 1, .slots = 1});
  uni::Cluster boss = cluster.connect();
  int port = free_tcp_port();
  Service<int> service = boss.spawn(server, port);
  TcpClient::connect(port, 15s);  // it serves
  service.stop();
  ASSERT_TRUE(service.future().wait_for(10s)) << "stop() did not end the service";
  try {
    service.get();
    ADD_FAILURE() << "a stopped service returned a value";
  } catch (const TaskError& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kCancelled) << e.what();
  }
  EXPECT_TRUE(wait_port_closed(port, 5s));
  // The only slot is free again: an ordinary task runs.
  Future<std::uint64_t> f = boss.remote(factorial)(6);
  ASSERT_TRUE(f.wait_for(30s)) << "the stopped service's slot was not freed";
  EXPECT_EQ(f.get(), local_factorial(6));
}

TEST(Echo, CliSpawnOfAServiceThatFailsAtOnceSaysSoAndExitsOne) {
  TestCluster cluster({.workers = 1, .slots = 1});
  CommandResult spawned =
      cluster.uni({"spawn", module_path("testfns"), "fail", "\"no such service\""});
  EXPECT_EQ(spawned.exit_code, 1) << spawned.describe();
  EXPECT_NE(spawned.err.find("ended at once"), std::string::npos) << spawned.describe();
  EXPECT_NE(spawned.err.find("no such service"), std::string::npos) << spawned.describe();
  EXPECT_TRUE(cluster.status()["services"].empty());
}

TEST(Echo, CliSpawnStatusStop) {
  TestCluster cluster({.workers = 1, .slots = 1});
  int port = free_tcp_port();
  CommandResult spawned =
      cluster.uni({"spawn", module_path("echo"), "server", std::to_string(port)});
  ASSERT_EQ(spawned.exit_code, 0) << spawned.describe();
  std::vector<std::string> lines = spawned.lines();
  ASSERT_EQ(lines.size(), 1u) << spawned.describe();
  const std::string id = lines[0];
  EXPECT_TRUE(std::regex_match(id, std::regex("[0-9a-f]{16}-[0-9]+"))) << id;

  nlohmann::json status = cluster.status();
  ASSERT_TRUE(status.contains("services")) << status.dump();
  ASSERT_EQ(status["services"].size(), 1u) << status.dump();
  const nlohmann::json& s = status["services"][0];
  EXPECT_EQ(s.value("id", ""), id);
  EXPECT_EQ(s.value("function", ""), "server");
  EXPECT_EQ(s.value("worker", ""), status["workers"][0].value("id", "?"));
  // Busy counts come with the worker's heartbeats, a moment after the start.
  for (int i = 0; i < 50 && status["workers"][0].value("busy", 0) != 1; ++i) {
    std::this_thread::sleep_for(100ms);
    status = cluster.status();
  }
  EXPECT_EQ(status["workers"][0].value("busy", 0), 1) << status.dump();

  {
    TcpClient client = TcpClient::connect(port, 15s);
    ASSERT_TRUE(client.send_line("ping from the cli test"));
    EXPECT_EQ(client.read_line().value_or("<nothing>"), "ping from the cli test");
  }

  CommandResult stopped = cluster.uni({"stop", id});
  EXPECT_EQ(stopped.exit_code, 0) << stopped.describe();
  EXPECT_NE(stopped.out.find(id), std::string::npos) << stopped.describe();
  EXPECT_TRUE(wait_port_closed(port, 5s)) << "port " << port << " still served after uni stop";
  EXPECT_TRUE(tcp_port_free(port)) << "port " << port << " cannot be bound again";

  // The manager forgets the service and the worker's slot is free again.
  nlohmann::json after;
  for (int i = 0; i < 50; ++i) {
    after = cluster.status();
    if (after.is_object() && after["services"].empty() && after["workers"][0].value("busy", 1) == 0)
      break;
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_TRUE(after["services"].empty()) << after.dump();
  EXPECT_EQ(after["workers"][0].value("busy", -1), 0) << after.dump();
  CommandResult r = cluster.uni({"run", module_path("factorial"), "factorial", "7"});
  EXPECT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_EQ(r.out, std::to_string(local_factorial(7)) + "\n");

  // An id the manager does not know is an error.
  CommandResult unknown = cluster.uni({"stop", "00000000000000ff-1"});
  EXPECT_EQ(unknown.exit_code, 1) << unknown.describe();
}

}  // namespace
}  // namespace uni::test
