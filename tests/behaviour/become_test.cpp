// `uni become` (issue 12) with real processes and real TCP clients: a client
// connected to echo v1 before the become is answered by v2 on the same
// connection, the line count carried over; v2 accepts new connections; a
// become that cannot happen (missing function, wrong state type, a v2 that
// throws or returns at start, a plain function, a service without a
// context, one that never hands over) leaves v1 serving the same
// connection; becomes go back and forth; `uni stop` stops what runs; 100
// becomes leak no descriptor and start no executor; 10 clients busy during
// a become lose no line.
#include <dirent.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cctype>
#include <filesystem>
#include <set>
#include <thread>

#include "echo.hpp"
#include "net.hpp"
#include "test_cluster.hpp"

namespace uni::test {
namespace {

using namespace std::chrono_literals;

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

nlohmann::json service_with_id(const nlohmann::json& status, const std::string& id) {
  for (const auto& s : status.value("services", nlohmann::json::array()))
    if (s.value("id", "") == id) return s;
  return nullptr;
}

// Spawns echo v1 on a free port; its id and port.
std::pair<std::string, int> spawn_echo(TestCluster& cluster) {
  const int port = free_tcp_port();
  CommandResult r = cluster.uni({"spawn", module_path("echo"), "server", std::to_string(port)});
  EXPECT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_EQ(r.lines().size(), 1u) << r.describe();
  return {r.lines().empty() ? "" : r.lines()[0], port};
}

// Sends `line`, returns the answer ("" if none came).
std::string ask(TcpClient& client, const std::string& line) {
  if (!client.send_line(line)) return "";
  return client.read_line(10s).value_or("");
}

CommandResult become(TestCluster& cluster, const std::string& id, const std::string& module,
                     const std::string& function, std::vector<std::string> extra = {}) {
  std::vector<std::string> args{"become", id, module_path(module), function};
  args.insert(args.end(), extra.begin(), extra.end());
  return cluster.uni(args, {.timeout = 60s});
}

// The descriptors a process has open.
std::size_t open_fds(pid_t pid) {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& entry :
       std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd"))
    ++n;
  return n;
}

// The worker's process tree without the worker itself: its executors (and
// what they run).
std::vector<pid_t> executors_of(ChildProcess& worker) {
  std::vector<pid_t> out = worker.processes();
  std::erase(out, worker.pid());
  return out;
}

TEST(Become, AClientConnectedBeforeIsAnsweredByV2WithTheCountCarriedOver) {
  TestCluster cluster({.workers = 1, .slots = 1});
  auto [id, port] = spawn_echo(cluster);
  TcpClient before = TcpClient::connect(port);
  EXPECT_EQ(ask(before, "hello"), "hello");
  EXPECT_EQ(ask(before, "second line"), "second line");
  const std::string v1_module = service_with_id(cluster.status(), id).value("module", "");

  CommandResult r = become(cluster, id, "echo_v2", "server");
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_TRUE(contains(r.out, "became server")) << r.describe();

  // The same connection: v2's answer, counting v1's two lines.
  EXPECT_EQ(ask(before, "world"), "3 WORLD");
  // New connections are v2's too.
  TcpClient after = TcpClient::connect(port);
  EXPECT_EQ(ask(after, "new client"), "4 NEW CLIENT");
  EXPECT_EQ(ask(before, "again"), "5 AGAIN");

  nlohmann::json service = service_with_id(cluster.status(), id);
  EXPECT_EQ(service.value("becomes", 0), 1) << service.dump();
  EXPECT_EQ(service.value("state", ""), "running") << service.dump();
  EXPECT_NE(service.value("module", ""), v1_module) << service.dump();
  EXPECT_EQ(service.value("module", "").size(), 64u) << service.dump();
  CommandResult text = cluster.uni({"status"});
  EXPECT_TRUE(contains(text.out, "BECOMES")) << text.describe();
}

TEST(Become, EveryFailedBecomeLeavesV1ServingTheSameConnection) {
  TestCluster cluster({.workers = 1, .slots = 1});
  auto [id, port] = spawn_echo(cluster);
  TcpClient client = TcpClient::connect(port);
  ASSERT_EQ(ask(client, "one"), "one");

  struct Case {
    std::string module, function, reason;
  };
  const std::vector<Case> cases = {
      {"echo_v2", "no_such_function", "unknown function 'no_such_function'"},
      {"become_faults", "wrong_state", "state: expected string"},
      {"become_faults", "throws_at_start", "v2 cannot start on port"},
      {"become_faults", "returns_at_once", "returned before it took over"},
      {"become_faults", "no_context", "takes no uni::ServiceContext&"},
  };
  for (const Case& c : cases) {
    CommandResult r = become(cluster, id, c.module, c.function);
    EXPECT_EQ(r.exit_code, 1) << r.describe();
    EXPECT_TRUE(contains(r.err, c.reason)) << c.function << ": " << r.describe();
    // v1 resumed: plain echo on the same connection, and new ones accepted.
    EXPECT_EQ(ask(client, "still v1 after " + c.function), "still v1 after " + c.function);
    TcpClient another = TcpClient::connect(port);
    EXPECT_EQ(ask(another, "hi"), "hi");
  }
  nlohmann::json service = service_with_id(cluster.status(), id);
  EXPECT_EQ(service.value("becomes", -1), 0) << service.dump();
  EXPECT_EQ(service.value("function", ""), "server") << service.dump();

  // After all that, a good become still works, and counts every line v1
  // answered: "one", five "still v1" and five "hi".
  CommandResult r = become(cluster, id, "echo_v2", "server");
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_EQ(ask(client, "finally"), "12 FINALLY");
}

TEST(Become, IsRefusedClearlyWhereItCannotHappen) {
  TestCluster cluster({.workers = 1, .slots = 2});
  // Not a service id, no such service, a bad timeout.
  EXPECT_EQ(cluster.uni({"become", "nonsense", module_path("echo_v2"), "server"}).exit_code, 2);
  CommandResult missing = become(cluster, "0123456789abcdef-1", "echo_v2", "server");
  EXPECT_EQ(missing.exit_code, 1) << missing.describe();
  EXPECT_TRUE(contains(missing.err, "no service 0123456789abcdef-1 is running"))
      << missing.describe();
  EXPECT_EQ(
      become(cluster, "0123456789abcdef-1", "echo_v2", "server", {"--timeout", "0"}).exit_code, 2);

  // A service whose function takes no context cannot hand over.
  CommandResult plain = cluster.uni({"spawn", module_path("testfns"), "sleep_ms", "60000"});
  ASSERT_EQ(plain.exit_code, 0) << plain.describe();
  const std::string plain_id = plain.lines().at(0);
  CommandResult r = become(cluster, plain_id, "echo_v2", "server");
  EXPECT_EQ(r.exit_code, 1) << r.describe();
  EXPECT_TRUE(contains(r.err, "does not take a uni::ServiceContext&")) << r.describe();

  // One that can, but never looks: withdrawn after --timeout, it runs on.
  CommandResult deaf = cluster.uni({"spawn", module_path("become_faults"), "deaf", "60000"});
  ASSERT_EQ(deaf.exit_code, 0) << deaf.describe();
  const std::string deaf_id = deaf.lines().at(0);
  r = become(cluster, deaf_id, "echo_v2", "server", {"--timeout", "0.5"});
  EXPECT_EQ(r.exit_code, 1) << r.describe();
  EXPECT_TRUE(contains(r.err, "did not hand over within 0.5 s")) << r.describe();
  nlohmann::json service = service_with_id(cluster.status(), deaf_id);
  EXPECT_EQ(service.value("state", ""), "running") << service.dump();
  EXPECT_EQ(service.value("becomes", -1), 0) << service.dump();
  EXPECT_EQ(service.value("function", ""), "deaf") << service.dump();
}

TEST(Become, GoesBackAndForthAndStopStopsTheVersionRunning) {
  TestCluster cluster({.workers = 1, .slots = 1});
  auto [id, port] = spawn_echo(cluster);
  TcpClient client = TcpClient::connect(port);
  ASSERT_EQ(ask(client, "a"), "a");
  ASSERT_EQ(become(cluster, id, "echo_v2", "server").exit_code, 0);
  EXPECT_EQ(ask(client, "b"), "2 B");
  ASSERT_EQ(become(cluster, id, "echo", "server").exit_code, 0);
  EXPECT_EQ(ask(client, "c"), "c");
  ASSERT_EQ(become(cluster, id, "echo_v2", "server").exit_code, 0);
  EXPECT_EQ(ask(client, "d"), "4 D");
  EXPECT_EQ(service_with_id(cluster.status(), id).value("becomes", 0), 3);

  CommandResult stop = cluster.uni({"stop", id});
  EXPECT_EQ(stop.exit_code, 0) << stop.describe();
  // The connection ends with the service, and nothing listens any more.
  EXPECT_EQ(client.read_line(10s), std::nullopt);
  EXPECT_FALSE(tcp_port_accepting(port));
  EXPECT_TRUE(service_with_id(cluster.status(), id).is_null());
}

// A service that answers its first client can be asked to become at once:
// the manager refused it while its worker's report of the start, which
// rides on the worker's next heartbeat, had not come in.
TEST(Become, IsAcceptedAsSoonAsTheServiceAnswers) {
  TestCluster cluster({.workers = 1, .slots = 1});
  uni::Cluster boss = cluster.connect();
  const int port = free_tcp_port();
  Service<int> service = boss.spawn(server, port);  // not waited for, as uni spawn would
  // Its first answer, as early as a client can have it.
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (!tcp_port_accepting(port)) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "the service never listened";
    std::this_thread::sleep_for(1ms);
  }
  TcpClient client = TcpClient::connect(port);
  ASSERT_EQ(ask(client, "first"), "first");
  BecomeResult r = boss.become(service.id(), module_path("echo_v2"), "server");
  EXPECT_EQ(r.becomes, 1u);
  EXPECT_EQ(ask(client, "second"), "2 SECOND");
  service.stop();
}

TEST(Become, AHundredBecomesLeakNoDescriptorAndStartNoExecutor) {
  TestCluster cluster({.workers = 1, .slots = 1});
  uni::Cluster boss = cluster.connect();
  const int port = free_tcp_port();
  Service<int> service = boss.spawn(server, port);  // v1, linked into this test
  TcpClient client = TcpClient::connect(port);
  ASSERT_EQ(ask(client, "0"), "0");
  const std::vector<pid_t> executors = executors_of(cluster.worker(0));
  ASSERT_EQ(executors.size(), 1u);
  const pid_t executor = executors[0];
  // After one round trip both modules are loaded: what is open then must
  // stay open, no more.
  boss.become(service.id(), module_path("echo_v2"), "server");
  boss.become(service.id(), server);
  const std::size_t fds = open_fds(executor);
  for (int i = 1; i <= 100; ++i) {
    BecomeResult r = i % 2 ? boss.become(service.id(), module_path("echo_v2"), "server")
                           : boss.become(service.id(), server);
    EXPECT_EQ(r.becomes, static_cast<std::uint32_t>(i + 2));
    std::string expected =
        i % 2 ? std::to_string(i + 1) + " LINE " + std::to_string(i) : "line " + std::to_string(i);
    ASSERT_EQ(ask(client, "line " + std::to_string(i)), expected) << "become " << i;
  }
  EXPECT_EQ(open_fds(executor), fds);
  EXPECT_EQ(executors_of(cluster.worker(0)), executors);
  service.stop();
}

TEST(Become, TenBusyClientsLoseNoLineAcrossABecome) {
  TestCluster cluster({.workers = 1, .slots = 1});
  auto [id, port] = spawn_echo(cluster);
  constexpr int kClients = 10;
  std::atomic<bool> stop{false};
  std::atomic<int> failures{0};
  std::vector<int> sent(kClients, 0);
  std::vector<std::vector<std::string>> answers(kClients);
  std::vector<std::thread> threads;
  for (int c = 0; c < kClients; ++c) {
    threads.emplace_back([&, c] {
      TcpClient client = TcpClient::connect(port);
      while (!stop) {
        std::string line = "client " + std::to_string(c) + " line " + std::to_string(sent[c]);
        if (!client.send_line(line)) break;
        std::optional<std::string> answer = client.read_line(20s);
        if (!answer) {
          ++failures;
          break;
        }
        ++sent[c];
        answers[c].push_back(*answer);
      }
    });
  }
  std::this_thread::sleep_for(300ms);
  CommandResult r = become(cluster, id, "echo_v2", "server");
  std::this_thread::sleep_for(300ms);
  stop = true;
  for (auto& t : threads) t.join();
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_EQ(failures, 0);
  // Every line answered, in order, by v1 then v2; v2's counts are distinct
  // and the last one counts every line answered.
  int total = 0;
  std::set<long> counts;
  for (int c = 0; c < kClients; ++c) {
    total += sent[c];
    bool upper = false;
    for (int i = 0; i < sent[c]; ++i) {
      std::string line = "client " + std::to_string(c) + " line " + std::to_string(i);
      const std::string& a = answers[c][i];
      if (a == line && !upper) continue;
      upper = true;
      std::size_t space = a.find(' ');
      ASSERT_NE(space, std::string::npos) << a;
      std::string upper_line = line;
      for (char& ch : upper_line) ch = static_cast<char>(std::toupper(ch));
      EXPECT_EQ(a.substr(space + 1), upper_line);
      counts.insert(std::stol(a.substr(0, space)));
    }
    EXPECT_TRUE(upper) << "client " << c << " was never answered by v2";
  }
  ASSERT_FALSE(counts.empty());
  EXPECT_EQ(*counts.rbegin(), total);
  std::printf("become with %d busy clients: %s", kClients, r.out.c_str());
}

}  // namespace
}  // namespace uni::test
