// What the uni CLI does on NATS alone: messages that name the NATS cluster
// rather than a manager, how many copies each stream has, a worker whose
// cache broke, an interrupted map and `uni result` through a server restart
// or over tls://, and a wrong scheme. Run, map, status, stop, submit/result,
// the examples, a wrong credential and a poison task are tested on both
// brokers in tests/behaviour.
#include <gtest/gtest.h>

#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "nats/client/jetstream.hpp"
#include "nats/store/names.hpp"
#include "nats/store/task_queue.hpp"
#include "nats_test_util.hpp"
#include "net.hpp"
#include "tls_certificates.hpp"
#include "uni/detail/platform.hpp"
#include "uni_on_nats.hpp"

namespace uni::test {
namespace {

using namespace std::chrono_literals;

std::string testfns() { return module_path("testfns"); }
std::string slowident() { return module_path("slowident"); }

// `uni status` says how many copies each stream has and whether the cluster
// can lose a node: on one server, one copy each, and it cannot.
TEST(CliOnNats, StatusSaysHowManyCopiesEachStreamHasAndWhetherTheClusterCanLoseANode) {
  NatsCluster nats;
  UniOnNats uni(nats.address());
  ChildProcess worker = uni.worker(1, "replicas-worker");
  ASSERT_EQ(uni.cli({"run", testfns(), "add", "1", "2"}).out, "3\n");

  UniOnNats::Outcome status = uni.cli({"status", "--json"});
  ASSERT_EQ(status.status.code, 0) << status.err;
  nlohmann::json report = nlohmann::json::parse(status.out);
  ASSERT_FALSE(report["streams"].empty()) << status.out;
  for (const nlohmann::json& st : report["streams"]) {
    EXPECT_EQ(st["replicas"], 1) << st.dump();
    EXPECT_EQ(st["current"], 1) << st.dump();
  }
  EXPECT_EQ(report["survives_node_loss"], false) << status.out;

  UniOnNats::Outcome text = uni.cli({"status"});
  EXPECT_NE(text.out.find("UNI_RESULTS 1/1"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("the cluster cannot lose a node"), std::string::npos) << text.out;
}

// CPU seconds process `pid` has used (user and system), from /proc.
double cpu_seconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::istringstream fields(text.substr(text.rfind(')') + 2));  // after "pid (comm) "
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

// Messages name the broker they talk to: a worker started before its
// cluster says it waits for the NATS cluster, not for a manager, and why
// (not "none has answered for 0 s"); it waits without spinning (a refused
// connection fails at once: it tried again at once, at 100 % CPU).
TEST(CliOnNats, AWorkerStartedBeforeItsClusterWaitsQuietlyAndSaysWhy) {
  const std::string address = "nats://127.0.0.1:" + std::to_string(free_tcp_port());
  UniOnNats uni(address);
  ChildProcess worker = uni.start_cli({"worker"});
  EXPECT_TRUE(worker.wait_for_stderr(
      "waiting for the NATS cluster at " + address + ": cannot reach a NATS server", 20s))
      << worker.read_stderr();
  const double before = cpu_seconds(worker.pid());
  std::this_thread::sleep_for(3s);
  const double used = cpu_seconds(worker.pid()) - before;
  EXPECT_LT(used, 0.5) << "the waiting worker used " << used << " s of CPU in 3 s";
  EXPECT_EQ(worker.read_stderr().find("manager"), std::string::npos) << worker.read_stderr();
  EXPECT_EQ(worker.read_stderr().find("for 0 s"), std::string::npos) << worker.read_stderr();
  worker.kill(SIGTERM);
  EXPECT_TRUE(worker.wait_for(10s).has_value());
}

// `uni result` on a cluster that cannot tell an unknown task from an
// unfinished one says so, whichever scheme the address takes: tls:// as
// nats://.
TEST(CliOnNats, ResultWithoutOneSaysTheTaskMayBeUnknownAlsoOverTls) {
  test::TempDir dir("uni-nats-result-tls");
  TestCertificates certs = TestCertificates::make(dir.path());
  NatsCluster nats(1, {.tls = {.cert_file = certs.server_cert, .key_file = certs.server_key}});
  ASSERT_TRUE(nats.address().starts_with("tls://")) << nats.address();
  UniOnNats uni(nats.address(), {"UNI_NATS_TLS_CA=" + certs.ca_cert});
  const std::string id = proto::TaskId{0x1234, 1}.str();
  UniOnNats::Outcome none = uni.cli({"result", id});
  EXPECT_EQ(none.status.code, 4) << none.err;
  EXPECT_NE(none.err.find("has no result yet (still queued or running, or unknown or expired)"),
            std::string::npos)
      << none.err;
}

// Errors that pointed the wrong way: tcp:// aimed at a NATS server said
// "wrong authkey?", and a scheme typo (nat://) was exit 3, "cannot connect".
TEST(CliOnNats, AWrongSchemeSaysWhatListensOrNamesTheSchemes) {
  NatsCluster nats;
  const std::string host_port = nats.address().substr(std::string("nats://").size());
  UniOnNats zmq("tcp://" + host_port, {"UNI_AUTHKEY=k"});
  UniOnNats::Outcome status = zmq.cli({"status"});
  EXPECT_EQ(status.status.code, 3) << status.err;
  EXPECT_NE(status.err.find("is a NATS server"), std::string::npos) << status.err;
  EXPECT_NE(status.err.find("nats://" + host_port), std::string::npos) << status.err;
  EXPECT_EQ(status.err.find("wrong authkey"), std::string::npos) << status.err;
  UniOnNats::Outcome worker = zmq.cli({"worker", "--connect-timeout", "20"});
  EXPECT_EQ(worker.status.code, 3) << worker.err;
  EXPECT_NE(worker.err.find("is a NATS server"), std::string::npos) << worker.err;

  UniOnNats typo("nat://" + host_port);
  for (const char* command : {"status", "worker"}) {
    UniOnNats::Outcome r = typo.cli({command});
    EXPECT_EQ(r.status.code, 2) << r.err;
    EXPECT_NE(r.err.find("unknown scheme nat://"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("nats://HOST:PORT"), std::string::npos) << r.err;
  }
}

// A worker whose module cache breaks takes itself out of service, and says
// why in `uni status` on NATS as on a manager (its note was dropped on NATS:
// the worker, silently idle, looked healthy). Its task runs on another.
TEST(CliOnNats, AWorkerWhoseCacheBrokeSaysWhyInStatus) {
  NatsCluster nats;
  UniOnNats uni(nats.address());
  const std::filesystem::path broken_dir = uni.dir() / "broken-cache";
  ChildProcess broken = uni.worker(2, "broken", {"--cache-dir", broken_dir.string()});
  // A file takes the directory's place: every module it stores now fails.
  std::filesystem::rename(broken_dir, uni.dir() / "broken-cache.gone");
  std::ofstream(broken_dir) << "x";

  UniOnNats::Outcome submit = uni.cli({"submit", testfns(), "add", "1", "2"});
  ASSERT_EQ(submit.status.code, 0) << submit.err;
  const std::string id = submit.out.substr(0, submit.out.find('\n'));
  nlohmann::json report;
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (std::chrono::steady_clock::now() < deadline) {
    UniOnNats::Outcome s = uni.cli({"status", "--json"});
    if (s.status.code == 0) {
      report = nlohmann::json::parse(s.out);
      if (report["workers"].size() == 1 && !report["workers"][0].value("note", "").empty()) break;
    }
    std::this_thread::sleep_for(200ms);
  }
  ASSERT_EQ(report["workers"].size(), 1u) << report.dump() << broken.read_stderr();
  EXPECT_NE(report["workers"][0].value("note", "").find("module cache"), std::string::npos)
      << report.dump() << broken.read_stderr();
  EXPECT_EQ(report["workers"][0]["capacity"], 0) << report.dump();
  EXPECT_EQ(report["totals"]["failed"], 0) << report.dump();
  UniOnNats::Outcome text = uni.cli({"status"});
  EXPECT_NE(text.out.find("takes no tasks"), std::string::npos) << text.out << text.err;

  ChildProcess healthy = uni.worker(2, "healthy");
  UniOnNats::Outcome result = uni.cli({"result", id, "--wait", "60"}, {}, 90s);
  EXPECT_EQ(result.status.code, 0) << result.err;
  EXPECT_EQ(result.out, "3\n") << result.err;
}

// An interrupted map ends in bounded time while the cluster does not answer
// (a stream gone with its node, here a node stopped): its cancel looked up
// every unfinished task in a bucket it could not open, a timeout each, and
// the map hung until SIGKILL.
TEST(CliOnNats, AnInterruptedMapEndsWhileTheClusterDoesNotAnswer) {
  NatsCluster nats;
  UniOnNats uni(nats.address());
  const int count = 500;
  ChildProcess map =
      uni.start_cli({"map", slowident(), "slow_ident"}, slow_ident_input(count, 1), "map");
  // No worker: the tasks wait in their stream.
  nats::Connection c = nats::Connection::connect({.address = nats.address()});
  nats::JetStream js(c);
  const std::string platform = UNI_PLATFORM_TAG;
  ASSERT_TRUE(nats::testing::eventually(
      [&] {
        std::optional<std::uint64_t> held = nats::TaskQueue::count_tasks(
            js, nats::Names().task_stream(platform), nats::Names().task_subject(platform) + ".>");
        return held && *held == count;
      },
      20s))
      << map.read_stderr();
  nats.node(0).pause();
  map.kill(SIGTERM);
  const auto start = std::chrono::steady_clock::now();
  std::optional<ExitStatus> status = map.wait_for(40s);
  const auto took = std::chrono::steady_clock::now() - start;
  nats.node(0).resume();
  if (!status) map.kill();
  ASSERT_TRUE(status) << "the interrupted map did not end: " << map.read_stderr();
  EXPECT_LT(took, 30s) << map.read_stderr();
  std::printf("the interrupted map ended %.1f s after SIGTERM\n",
              std::chrono::duration<double>(took).count());
  EXPECT_NE(map.read_stderr().find("cancelling " + std::to_string(count)), std::string::npos)
      << map.read_stderr();
}

// `uni result --wait` waits through a server restart within its wait (it
// exited at once: "cannot reach a NATS server").
TEST(CliOnNats, ResultWaitsThroughAServerRestart) {
  NatsCluster nats;
  UniOnNats uni(nats.address());
  ChildProcess worker = uni.worker();
  UniOnNats::Outcome submit = uni.cli({"submit", testfns(), "add", "20", "22"});
  ASSERT_EQ(submit.status.code, 0) << submit.err;
  const std::string id = submit.out.substr(0, submit.out.find('\n'));
  ASSERT_EQ(uni.cli({"result", id, "--wait", "30"}).out, "42\n");
  nats.node(0).kill();
  ChildProcess result = uni.start_cli({"result", id, "--wait", "60"}, {}, "result");
  std::this_thread::sleep_for(2s);
  EXPECT_TRUE(result.running()) << result.read_stderr();
  nats.node(0).restart();
  std::optional<ExitStatus> status = result.wait_for(60s);
  ASSERT_TRUE(status) << result.read_stderr();
  EXPECT_EQ(status->code, 0) << result.read_stderr();
  EXPECT_EQ(result.read_stdout(), "42\n") << result.read_stderr();
}

}  // namespace
}  // namespace uni::test
