// `uni become` and Cluster::become on a real nats-server, with no manager:
// the echo service spawned on NATS takes on v2 while a TCP client stays
// connected and its line count is carried over, goes back to v1 through the
// C++ API, and its services entry (`uni status`) shows the module and the
// becomes; every become that cannot happen (no such service, a task that is
// not a service, a missing function, a wrong state type, a v2 that throws at
// start, a service without a context, one that never hands over, a module of
// another platform) fails with the reason and leaves v1 serving the same
// connection; a become to a worker that is gone, or that dies during the
// become, is answered "not ok" saying so.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "net.hpp"
#include "temp_dir.hpp"
#include "uni/detail/platform.hpp"
#include "uni/uni.hpp"
#include "uni_on_nats.hpp"

namespace uni::test {
namespace {

using namespace std::chrono_literals;

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

nlohmann::json service_with_id(UniOnNats& uni, const std::string& id) {
  UniOnNats::Outcome s = uni.cli({"status", "--json"});
  if (s.status.code != 0) return nullptr;
  for (const auto& service :
       nlohmann::json::parse(s.out).value("services", nlohmann::json::array()))
    if (service.value("id", "") == id) return service;
  return nullptr;
}

// Spawns echo v1 on a free port; its id and port.
std::pair<std::string, int> spawn_echo(UniOnNats& uni) {
  const int port = free_tcp_port();
  UniOnNats::Outcome r = uni.cli({"spawn", module_path("echo"), "server", std::to_string(port)});
  EXPECT_EQ(r.status.code, 0) << r.err;
  return {r.out.substr(0, r.out.find('\n')), port};
}

std::string ask(TcpClient& client, const std::string& line) {
  if (!client.send_line(line)) return "";
  return client.read_line(10s).value_or("");
}

UniOnNats::Outcome become(UniOnNats& uni, const std::string& id, const std::string& module,
                          const std::string& function, std::vector<std::string> extra = {}) {
  std::vector<std::string> args{"become", id, module, function};
  args.insert(args.end(), extra.begin(), extra.end());
  return uni.cli(args, std::nullopt, 90s);
}

// The services bucket is put by the worker's heartbeat: wait for the entry.
nlohmann::json running_service(UniOnNats& uni, const std::string& id) {
  nlohmann::json service;
  for (int i = 0; i < 100 && service.is_null(); ++i) {
    service = service_with_id(uni, id);
    if (service.is_null()) std::this_thread::sleep_for(100ms);
  }
  return service;
}

TEST(BecomeOnNats, TheEchoServiceBecomesV2KeepingItsClientAndItsCount) {
  NatsCluster nats;
  UniOnNats uni(nats.address());
  ChildProcess worker = uni.worker(1);
  auto [id, port] = spawn_echo(uni);
  TcpClient before = TcpClient::connect(port);
  EXPECT_EQ(ask(before, "hello"), "hello");
  EXPECT_EQ(ask(before, "second line"), "second line");
  const nlohmann::json v1 = running_service(uni, id);
  ASSERT_FALSE(v1.is_null()) << "service " << id << " not in uni status";
  EXPECT_EQ(v1.value("becomes", -1), 0) << v1.dump();
  const std::string v1_module = v1.value("module", "");
  EXPECT_EQ(v1_module.size(), 64u) << v1.dump();

  UniOnNats::Outcome r = become(uni, id, module_path("echo_v2"), "server");
  ASSERT_EQ(r.status.code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "became server")) << r.out;
  EXPECT_TRUE(contains(r.out, "become #1")) << r.out;

  // The same connection: v2's answer, counting v1's two lines; new
  // connections are v2's too.
  EXPECT_EQ(ask(before, "world"), "3 WORLD");
  TcpClient after = TcpClient::connect(port);
  EXPECT_EQ(ask(after, "new client"), "4 NEW CLIENT");

  nlohmann::json v2 = service_with_id(uni, id);
  EXPECT_EQ(v2.value("becomes", 0), 1) << v2.dump();
  EXPECT_EQ(v2.value("function", ""), "server") << v2.dump();
  EXPECT_EQ(v2.value("module", "").size(), 64u) << v2.dump();
  EXPECT_NE(v2.value("module", ""), v1_module) << v2.dump();

  // Back to v1 through the C++ API, with only the address changed.
  uni::Cluster boss = uni::connect(nats.address());
  BecomeResult back = boss.become(id, module_path("echo"), "server");
  EXPECT_EQ(back.becomes, 2u);
  EXPECT_EQ(ask(before, "v1 again"), "v1 again");
  EXPECT_EQ(ask(after, "still here"), "still here");
  nlohmann::json again = service_with_id(uni, id);
  EXPECT_EQ(again.value("module", ""), v1_module) << again.dump();
  EXPECT_EQ(again.value("becomes", 0), 2) << again.dump();

  UniOnNats::Outcome stop = uni.cli({"stop", id});
  EXPECT_EQ(stop.status.code, 0) << stop.err;
  EXPECT_EQ(before.read_line(10s), std::nullopt);
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

TEST(BecomeOnNats, EveryFailedBecomeSaysWhyAndLeavesV1ServingTheSameConnection) {
  NatsCluster nats;
  UniOnNats uni(nats.address());
  ChildProcess worker = uni.worker(3);
  auto [id, port] = spawn_echo(uni);
  TcpClient client = TcpClient::connect(port);
  ASSERT_EQ(ask(client, "one"), "one");
  ASSERT_FALSE(running_service(uni, id).is_null());

  struct Case {
    std::string module, function, reason;
  };
  const std::vector<Case> cases = {
      {module_path("echo_v2"), "no_such_function", "unknown function 'no_such_function'"},
      {module_path("become_faults"), "wrong_state", "state: expected string"},
      {module_path("become_faults"), "throws_at_start", "v2 cannot start on port"},
      {module_path("become_faults"), "returns_at_once", "returned before it took over"},
      {module_path("become_faults"), "no_context", "takes no uni::ServiceContext&"},
      {module_for_another_platform(uni.dir(), module_path("echo_v2")), "server",
       "the module is built for "},
  };
  for (const Case& c : cases) {
    UniOnNats::Outcome r = become(uni, id, c.module, c.function);
    EXPECT_EQ(r.status.code, 1) << c.function << ": " << r.err;
    EXPECT_TRUE(contains(r.err, c.reason)) << c.function << ": " << r.err;
    EXPECT_EQ(ask(client, "still v1 after " + c.function), "still v1 after " + c.function);
  }
  nlohmann::json service = service_with_id(uni, id);
  EXPECT_EQ(service.value("becomes", -1), 0) << service.dump();
  EXPECT_EQ(service.value("function", ""), "server") << service.dump();

  // No such service; a task that is not a service (it ran and ended).
  UniOnNats::Outcome missing = become(uni, "0123456789abcdef-1", module_path("echo_v2"), "server");
  EXPECT_EQ(missing.status.code, 1) << missing.err;
  EXPECT_TRUE(contains(missing.err, "no service 0123456789abcdef-1 is running")) << missing.err;
  UniOnNats::Outcome task = uni.cli({"submit", module_path("testfns"), "add", "2", "3"});
  ASSERT_EQ(task.status.code, 0) << task.err;
  const std::string task_id = task.out.substr(0, task.out.find('\n'));
  UniOnNats::Outcome not_service = become(uni, task_id, module_path("echo_v2"), "server");
  EXPECT_EQ(not_service.status.code, 1) << not_service.err;
  EXPECT_TRUE(contains(not_service.err, "no service " + task_id + " is running"))
      << not_service.err;

  // A service whose function takes no context cannot hand over; one that
  // can but never looks is withdrawn after --timeout and runs on.
  UniOnNats::Outcome plain = uni.cli({"spawn", module_path("testfns"), "sleep_ms", "600000"});
  ASSERT_EQ(plain.status.code, 0) << plain.err;
  const std::string plain_id = plain.out.substr(0, plain.out.find('\n'));
  ASSERT_FALSE(running_service(uni, plain_id).is_null());
  UniOnNats::Outcome refused = become(uni, plain_id, module_path("echo_v2"), "server");
  EXPECT_EQ(refused.status.code, 1) << refused.err;
  EXPECT_TRUE(contains(refused.err, "does not take a uni::ServiceContext&")) << refused.err;

  UniOnNats::Outcome deaf = uni.cli({"spawn", module_path("become_faults"), "deaf", "600000"});
  ASSERT_EQ(deaf.status.code, 0) << deaf.err;
  const std::string deaf_id = deaf.out.substr(0, deaf.out.find('\n'));
  ASSERT_FALSE(running_service(uni, deaf_id).is_null());
  UniOnNats::Outcome late =
      become(uni, deaf_id, module_path("echo_v2"), "server", {"--timeout", "0.5"});
  EXPECT_EQ(late.status.code, 1) << late.err;
  EXPECT_TRUE(contains(late.err, "did not hand over within 0.5 s")) << late.err;
  nlohmann::json deaf_entry = service_with_id(uni, deaf_id);
  EXPECT_EQ(deaf_entry.value("function", ""), "deaf") << deaf_entry.dump();
  EXPECT_EQ(deaf_entry.value("becomes", -1), 0) << deaf_entry.dump();

  // After all that, a good become still works and counts every line v1 answered.
  UniOnNats::Outcome good = become(uni, id, module_path("echo_v2"), "server");
  ASSERT_EQ(good.status.code, 0) << good.err;
  EXPECT_EQ(ask(client, "finally"), "8 FINALLY");
}

TEST(BecomeOnNats, AWorkerThatDiesDuringTheBecomeIsReportedNotWaitedForSilently) {
  NatsCluster nats;
  UniOnNats uni(nats.address());
  ChildProcess worker = uni.worker(1);
  UniOnNats::Outcome deaf = uni.cli({"spawn", module_path("become_faults"), "deaf", "600000"});
  ASSERT_EQ(deaf.status.code, 0) << deaf.err;
  const std::string id = deaf.out.substr(0, deaf.out.find('\n'));
  ASSERT_FALSE(running_service(uni, id).is_null());

  // The service never hands over; its worker is killed while the boss waits.
  ChildProcess cli = uni.start_cli(
      {"become", id, module_path("echo_v2"), "server", "--timeout", "30"}, std::nullopt, "become");
  ASSERT_TRUE(worker.wait_for_stderr("asked to become", 30s)) << worker.read_stderr();
  worker.kill();
  std::optional<ExitStatus> status = cli.wait_for(90s);
  ASSERT_TRUE(status) << "uni become still waits: " << cli.read_stderr();
  EXPECT_EQ(status->code, 1) << cli.read_stderr();
  EXPECT_TRUE(contains(cli.read_stderr(), "left the cluster during the become"))
      << cli.read_stderr();
}

TEST(BecomeOnNats, ABecomeToAWorkerThatIsGoneIsAnsweredNotOk) {
  NatsCluster nats;
  UniOnNats uni(nats.address());
  ChildProcess worker = uni.worker(1);
  auto [id, port] = spawn_echo(uni);
  ASSERT_FALSE(running_service(uni, id).is_null());
  worker.kill();
  worker.wait_for(10s);
  UniOnNats::Outcome r = become(uni, id, module_path("echo_v2"), "server");
  EXPECT_EQ(r.status.code, 1) << r.err;
  // Depending on how far the registry has caught up with the death: its
  // entries still there (nobody listens), the worker's gone, or both gone.
  EXPECT_TRUE(contains(r.err, "does not listen for become requests") ||
              contains(r.err, "has left the cluster") ||
              contains(r.err, "no service " + id + " is running"))
      << r.err;
}

}  // namespace
}  // namespace uni::test
