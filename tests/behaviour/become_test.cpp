// `uni become` and Cluster::become with real processes and real TCP clients,
// on both brokers: a client connected to echo v1 before the become is
// answered by v2 on the same connection, the line count carried over; v2
// accepts new connections; the services entry shows the new module and the
// becomes; a become that cannot happen (missing function, wrong state type,
// a v2 that throws or returns at start, a service without a context, a
// module of another platform, a plain function, one that never hands over,
// no such service, a task that is not a service) says why and leaves v1
// serving the same connection; becomes go back and forth, through the CLI
// and the C++ API; `uni stop` stops what runs; 100 becomes leak no
// descriptor and start no executor; 10 clients busy during a become lose no
// line; a worker gone, or dying during the become, is reported.
#include <gtest/gtest.h>

#include <atomic>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "broker_cluster.hpp"
#include "echo.hpp"
#include "net.hpp"
#include "uni/detail/platform.hpp"

namespace uni::test {
namespace {

using namespace std::chrono_literals;

nlohmann::json service_with_id(BrokerCluster& cluster, const std::string& id) {
  nlohmann::json status = cluster.status();
  if (!status.is_object()) return nullptr;
  for (const auto& s : status.value("services", nlohmann::json::array()))
    if (s.value("id", "") == id) return s;
  return nullptr;
}

// A service's entry once its worker reported it running (on NATS the
// services bucket is put by the worker's heartbeat). Polled through the API.
nlohmann::json running_service(BrokerCluster& cluster, const std::string& id) {
  nlohmann::json service;
  eventually([&] {
    service = nullptr;
    nlohmann::json status = cluster.api_status();
    if (status.is_object())
      for (const auto& s : status.value("services", nlohmann::json::array()))
        if (s.value("id", "") == id) service = s;
    return !service.is_null() && service.value("state", "") == "running";
  });
  return service;
}

// Spawns echo v1 on a free port; its id and port.
std::pair<std::string, int> spawn_echo(BrokerCluster& cluster) {
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

CommandResult become(BrokerCluster& cluster, const std::string& id, const std::string& module,
                     const std::string& function, std::vector<std::string> extra = {}) {
  std::vector<std::string> args{"become", id, module, function};
  args.insert(args.end(), extra.begin(), extra.end());
  return cluster.uni(args, {.timeout = 90s});
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

// A copy of `module` that says it was built for another platform (the tag
// in its platform section with its first letter's case flipped).
std::string module_for_another_platform(const TempDir& dir, const std::string& module) {
  std::ifstream in(module, std::ios::binary);
  std::stringstream bytes;
  bytes << in.rdbuf();
  std::string image = bytes.str();
  const std::string tag = UNI_PLATFORM_TAG;
  std::string other = tag;
  other[0] = static_cast<char>(std::isupper(static_cast<unsigned char>(tag[0]))
                                   ? std::tolower(static_cast<unsigned char>(tag[0]))
                                   : std::toupper(static_cast<unsigned char>(tag[0])));
  std::size_t found = 0;
  for (std::size_t at = image.find(tag); at != std::string::npos; at = image.find(tag, at + 1)) {
    image.replace(at, tag.size(), other);
    ++found;
  }
  EXPECT_GT(found, 0u) << "no platform tag in " << module;
  const std::string path = (dir.path() / "libecho_elsewhere.so").string();
  std::ofstream(path, std::ios::binary) << image;
  return path;
}

class Become : public ::testing::TestWithParam<Broker> {};

TEST_P(Become, AClientConnectedBeforeIsAnsweredByV2WithTheCountCarriedOver) {
  BrokerCluster cluster(GetParam(), {.workers = 1, .slots = 1});
  auto [id, port] = spawn_echo(cluster);
  TcpClient before = TcpClient::connect(port);
  EXPECT_EQ(ask(before, "hello"), "hello");
  EXPECT_EQ(ask(before, "second line"), "second line");
  const nlohmann::json v1 = running_service(cluster, id);
  ASSERT_FALSE(v1.is_null()) << "service " << id << " not in uni status";
  EXPECT_EQ(v1.value("becomes", -1), 0) << v1.dump();
  const std::string v1_module = v1.value("module", "");
  EXPECT_EQ(v1_module.size(), 64u) << v1.dump();

  CommandResult r = become(cluster, id, module_path("echo_v2"), "server");
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_TRUE(contains(r.out, "became server")) << r.describe();
  EXPECT_TRUE(contains(r.out, "become #1")) << r.describe();

  // The same connection: v2's answer, counting v1's two lines.
  EXPECT_EQ(ask(before, "world"), "3 WORLD");
  // New connections are v2's too.
  TcpClient after = TcpClient::connect(port);
  EXPECT_EQ(ask(after, "new client"), "4 NEW CLIENT");
  EXPECT_EQ(ask(before, "again"), "5 AGAIN");

  nlohmann::json service = service_with_id(cluster, id);
  EXPECT_EQ(service.value("becomes", 0), 1) << service.dump();
  EXPECT_EQ(service.value("state", ""), "running") << service.dump();
  EXPECT_EQ(service.value("function", ""), "server") << service.dump();
  EXPECT_NE(service.value("module", ""), v1_module) << service.dump();
  EXPECT_EQ(service.value("module", "").size(), 64u) << service.dump();
  CommandResult text = cluster.uni({"status"});
  EXPECT_TRUE(contains(text.out, "BECOMES")) << text.describe();

  // Back to v1 through the C++ API, with only the address changed.
  uni::Cluster boss = cluster.connect();
  BecomeResult back = boss.become(id, module_path("echo"), "server");
  EXPECT_EQ(back.becomes, 2u);
  EXPECT_EQ(ask(before, "v1 again"), "v1 again");
  EXPECT_EQ(ask(after, "still here"), "still here");
  nlohmann::json again = service_with_id(cluster, id);
  EXPECT_EQ(again.value("module", ""), v1_module) << again.dump();
  EXPECT_EQ(again.value("becomes", 0), 2) << again.dump();

  CommandResult stop = cluster.uni({"stop", id});
  EXPECT_EQ(stop.exit_code, 0) << stop.describe();
  EXPECT_EQ(before.read_line(10s), std::nullopt);
}

TEST_P(Become, EveryFailedBecomeSaysWhyAndLeavesV1ServingTheSameConnection) {
  BrokerCluster cluster(GetParam(), {.workers = 1, .slots = 1});
  auto [id, port] = spawn_echo(cluster);
  TcpClient client = TcpClient::connect(port);
  ASSERT_EQ(ask(client, "one"), "one");
  ASSERT_FALSE(running_service(cluster, id).is_null());

  struct Case {
    std::string module, function, reason;
  };
  const std::vector<Case> cases = {
      {module_path("echo_v2"), "no_such_function", "unknown function 'no_such_function'"},
      {module_path("become_faults"), "wrong_state", "state: expected string"},
      {module_path("become_faults"), "throws_at_start", "v2 cannot start on port"},
      {module_path("become_faults"), "returns_at_once", "returned before it took over"},
      {module_path("become_faults"), "no_context", "takes no uni::ServiceContext&"},
      {module_for_another_platform(cluster.dir(), module_path("echo_v2")), "server",
       "the module is built for "},
  };
  for (const Case& c : cases) {
    CommandResult r = become(cluster, id, c.module, c.function);
    EXPECT_EQ(r.exit_code, 1) << c.function << ": " << r.describe();
    EXPECT_TRUE(contains(r.err, c.reason)) << c.function << ": " << r.describe();
    // v1 resumed: plain echo on the same connection, and new ones accepted.
    EXPECT_EQ(ask(client, "still v1 after " + c.function), "still v1 after " + c.function);
    TcpClient another = TcpClient::connect(port);
    EXPECT_EQ(ask(another, "hi"), "hi");
  }
  nlohmann::json service = service_with_id(cluster, id);
  EXPECT_EQ(service.value("becomes", -1), 0) << service.dump();
  EXPECT_EQ(service.value("function", ""), "server") << service.dump();

  // After all that, a good become still works, and counts every line v1
  // answered: "one", six "still v1" and six "hi".
  CommandResult r = become(cluster, id, module_path("echo_v2"), "server");
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_EQ(ask(client, "finally"), "14 FINALLY");
}

TEST_P(Become, IsRefusedClearlyWhereItCannotHappen) {
  BrokerCluster cluster(GetParam(), {.workers = 1, .slots = 3});
  // Not a service id, no such service, a bad timeout.
  EXPECT_EQ(cluster.uni({"become", "nonsense", module_path("echo_v2"), "server"}).exit_code, 2);
  CommandResult missing = become(cluster, "0123456789abcdef-1", module_path("echo_v2"), "server");
  EXPECT_EQ(missing.exit_code, 1) << missing.describe();
  EXPECT_TRUE(contains(missing.err, "no service 0123456789abcdef-1 is running"))
      << missing.describe();
  EXPECT_EQ(
      become(cluster, "0123456789abcdef-1", module_path("echo_v2"), "server", {"--timeout", "0"})
          .exit_code,
      2);

  // A task that is not a service (it ran and ended).
  CommandResult task = cluster.uni({"submit", module_path("testfns"), "add", "2", "3"});
  ASSERT_EQ(task.exit_code, 0) << task.describe();
  const std::string task_id = first_line(task);
  ASSERT_EQ(cluster.uni({"result", task_id, "--wait", "30"}, {.timeout = 60s}).out, "5\n");
  CommandResult not_service = become(cluster, task_id, module_path("echo_v2"), "server");
  EXPECT_EQ(not_service.exit_code, 1) << not_service.describe();
  EXPECT_TRUE(contains(not_service.err, "no service " + task_id + " is running"))
      << not_service.describe();

  // A service whose function takes no context cannot hand over.
  CommandResult plain = cluster.uni({"spawn", module_path("testfns"), "sleep_ms", "600000"});
  ASSERT_EQ(plain.exit_code, 0) << plain.describe();
  const std::string plain_id = first_line(plain);
  ASSERT_FALSE(running_service(cluster, plain_id).is_null());
  CommandResult r = become(cluster, plain_id, module_path("echo_v2"), "server");
  EXPECT_EQ(r.exit_code, 1) << r.describe();
  EXPECT_TRUE(contains(r.err, "does not take a uni::ServiceContext&")) << r.describe();

  // One that can, but never looks: withdrawn after --timeout, it runs on.
  CommandResult deaf = cluster.uni({"spawn", module_path("become_faults"), "deaf", "600000"});
  ASSERT_EQ(deaf.exit_code, 0) << deaf.describe();
  const std::string deaf_id = first_line(deaf);
  ASSERT_FALSE(running_service(cluster, deaf_id).is_null());
  r = become(cluster, deaf_id, module_path("echo_v2"), "server", {"--timeout", "0.5"});
  EXPECT_EQ(r.exit_code, 1) << r.describe();
  EXPECT_TRUE(contains(r.err, "did not hand over within 0.5 s")) << r.describe();
  nlohmann::json service = service_with_id(cluster, deaf_id);
  EXPECT_EQ(service.value("state", ""), "running") << service.dump();
  EXPECT_EQ(service.value("becomes", -1), 0) << service.dump();
  EXPECT_EQ(service.value("function", ""), "deaf") << service.dump();
}

TEST_P(Become, GoesBackAndForthAndStopStopsTheVersionRunning) {
  BrokerCluster cluster(GetParam(), {.workers = 1, .slots = 1});
  auto [id, port] = spawn_echo(cluster);
  TcpClient client = TcpClient::connect(port);
  ASSERT_EQ(ask(client, "a"), "a");
  ASSERT_EQ(become(cluster, id, module_path("echo_v2"), "server").exit_code, 0);
  EXPECT_EQ(ask(client, "b"), "2 B");
  ASSERT_EQ(become(cluster, id, module_path("echo"), "server").exit_code, 0);
  EXPECT_EQ(ask(client, "c"), "c");
  ASSERT_EQ(become(cluster, id, module_path("echo_v2"), "server").exit_code, 0);
  EXPECT_EQ(ask(client, "d"), "4 D");
  EXPECT_TRUE(eventually([&] { return service_with_id(cluster, id).value("becomes", 0) == 3; }))
      << service_with_id(cluster, id).dump();

  CommandResult stop = cluster.uni({"stop", id});
  EXPECT_EQ(stop.exit_code, 0) << stop.describe();
  // The connection ends with the service, and nothing listens any more.
  EXPECT_EQ(client.read_line(10s), std::nullopt);
  EXPECT_FALSE(tcp_port_accepting(port));
  EXPECT_TRUE(eventually([&] { return service_with_id(cluster, id).is_null(); }));
}

// A service that answers its first client can be asked to become at once:
// the manager refused it while its worker's report of the start, which
// rides on the worker's next heartbeat, had not come in. On NATS the
// services bucket is still put by the worker's heartbeat, so the brokers
// differ: there a become is accepted once `uni status` lists the service.
TEST_P(Become, IsAcceptedAsSoonAsTheServiceAnswers) {
  BrokerCluster cluster(GetParam(), {.workers = 1, .slots = 1});
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
  if (!cluster.has_manager()) {
    ASSERT_FALSE(running_service(cluster, service.id()).is_null());
  }
  BecomeResult r = boss.become(service.id(), module_path("echo_v2"), "server");
  EXPECT_EQ(r.becomes, 1u);
  EXPECT_EQ(ask(client, "second"), "2 SECOND");
  service.stop();
}

TEST_P(Become, AHundredBecomesLeakNoDescriptorAndStartNoExecutor) {
  BrokerCluster cluster(GetParam(), {.workers = 1, .slots = 1});
  uni::Cluster boss = cluster.connect();
  const int port = free_tcp_port();
  Service<int> service = boss.spawn(server, port);  // v1, linked into this test
  TcpClient client = TcpClient::connect(port);
  ASSERT_EQ(ask(client, "0"), "0");
  if (!cluster.has_manager()) {  // see IsAcceptedAsSoonAsTheServiceAnswers
    ASSERT_FALSE(running_service(cluster, service.id()).is_null());
  }
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

TEST_P(Become, TenBusyClientsLoseNoLineAcrossABecome) {
  BrokerCluster cluster(GetParam(), {.workers = 1, .slots = 1});
  auto [id, port] = spawn_echo(cluster);
  ASSERT_FALSE(running_service(cluster, id).is_null());
  constexpr int kClients = 10;
  std::atomic<bool> stop{false};
  std::atomic<int> failures{0};
  std::atomic<int> answered{0};
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
        ++answered;
        answers[c].push_back(*answer);
      }
    });
  }
  // Every client busy before the become, and for a while after it.
  ASSERT_TRUE(eventually([&] { return answered >= 10 * kClients; }));
  CommandResult r = become(cluster, id, module_path("echo_v2"), "server");
  const int at_become = answered;
  EXPECT_TRUE(eventually([&] { return answered >= at_become + 10 * kClients; }));
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

TEST_P(Become, AWorkerThatDiesDuringTheBecomeIsReportedNotWaitedForSilently) {
  BrokerCluster cluster(GetParam(), {.workers = 1, .slots = 1});
  CommandResult deaf = cluster.uni({"spawn", module_path("become_faults"), "deaf", "600000"});
  ASSERT_EQ(deaf.exit_code, 0) << deaf.describe();
  const std::string id = first_line(deaf);
  ASSERT_FALSE(running_service(cluster, id).is_null());

  // The service never hands over; its worker is killed while the boss waits.
  ChildProcess cli = cluster.start(
      "become", {uni_binary(), "become", id, module_path("echo_v2"), "server", "--timeout", "30"});
  ChildProcess& worker = cluster.worker(0);
  ASSERT_TRUE(worker.wait_for_stderr("asked to become", 30s)) << worker.read_stderr();
  worker.kill();
  std::optional<ExitStatus> status = cli.wait_for(90s);
  ASSERT_TRUE(status) << "uni become still waits: " << cli.read_stderr();
  EXPECT_EQ(status->code, 1) << cli.read_stderr();
  // The manager tells once it has declared the worker lost (its heartbeat
  // timeout); NATS once the worker's registry entry is gone.
  const std::string reason = cluster.has_manager() ? "did not become server: the service's worker "
                                                   : "left the cluster during the become";
  EXPECT_TRUE(contains(cli.read_stderr(), reason)) << cli.read_stderr();
  if (cluster.has_manager()) {
    EXPECT_TRUE(contains(cli.read_stderr(), " was lost: ")) << cli.read_stderr();
  }
}

TEST_P(Become, ABecomeToAWorkerThatIsGoneIsAnsweredNotOk) {
  BrokerCluster cluster(GetParam(), {.workers = 1, .slots = 1});
  auto [id, port] = spawn_echo(cluster);
  ASSERT_FALSE(running_service(cluster, id).is_null());
  cluster.worker(0).kill();
  cluster.worker(0).wait_for(10s);
  CommandResult r = become(cluster, id, module_path("echo_v2"), "server");
  EXPECT_EQ(r.exit_code, 1) << r.describe();
  if (cluster.has_manager()) {
    // The manager holds the become until it declares the worker lost, then
    // says so (and requeues the service).
    EXPECT_TRUE(contains(r.err, "did not become server: the service's worker ") &&
                contains(r.err, " was lost: "))
        << r.describe();
  } else {
    // Depending on how far the registry has caught up with the death: its
    // entries still there (nobody listens), the worker's gone, or both gone.
    EXPECT_TRUE(contains(r.err, "does not listen for become requests") ||
                contains(r.err, "has left the cluster") ||
                contains(r.err, "no service " + id + " is running"))
        << r.describe();
  }
}

INSTANTIATE_TEST_SUITE_P(Brokers, Become, kBothBrokers, BrokerName());

}  // namespace
}  // namespace uni::test
