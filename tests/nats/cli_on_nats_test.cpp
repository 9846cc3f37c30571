// The uni CLI, `uni worker` and the examples on one real nats-server, with no
// manager and only the address changed (issue 9): run, map in order, a failing
// task, spawn / status / stop of a service, the factorial boss, a wrong
// credential (exit 3, in time, a clear message), a poison task whose
// workers keep dying, stopped at its attempt limit, and messages that name
// the NATS cluster rather than a manager.
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

// The number of tasks executing, as `uni status --json` reports it: in the
// whole cluster, or on the worker whose supervisor is `pid`.
std::uint64_t running(UniOnNats& uni, pid_t pid = 0) {
  UniOnNats::Outcome s = uni.cli({"status", "--json"});
  if (s.status.code != 0) return 0;
  nlohmann::json report = nlohmann::json::parse(s.out);
  if (pid == 0) return report.value("running", std::uint64_t{0});
  for (const nlohmann::json& w : report["workers"])
    if (w.value("pid", 0) == pid) return w.value("busy", std::uint64_t{0});
  return 0;
}

TEST(CliOnNats, RunMapAndAFailingTaskWithOnlyTheAddressChanged) {
  NatsCluster nats;
  UniOnNats uni(nats.address());
  ChildProcess worker = uni.worker();

  UniOnNats::Outcome run = uni.cli({"run", testfns(), "add", "2", "3"});
  EXPECT_EQ(run.status.code, 0) << run.err;
  EXPECT_EQ(run.out, "5\n");

  UniOnNats::Outcome map = uni.cli({"map", slowident(), "slow_ident"}, slow_ident_input(300, 0));
  EXPECT_EQ(map.status.code, 0) << map.err;
  EXPECT_TRUE(results_in_order(map.out, 300));

  UniOnNats::Outcome fail = uni.cli({"run", testfns(), "fail", "\"x\""});
  EXPECT_EQ(fail.status.code, 1);
  EXPECT_NE(fail.err.find("boom: x"), std::string::npos) << fail.err;
  EXPECT_NE(fail.err.find("exception"), std::string::npos) << fail.err;
}

TEST(CliOnNats, StatusListsWorkersAndServicesAndStopEndsAService) {
  NatsCluster nats;
  UniOnNats uni(nats.address());
  ChildProcess worker = uni.worker(2, "status-worker");

  UniOnNats::Outcome spawn = uni.cli({"spawn", testfns(), "sleep_ms", "600000"});
  ASSERT_EQ(spawn.status.code, 0) << spawn.err;
  std::string id = spawn.out.substr(0, spawn.out.find('\n'));
  ASSERT_TRUE(proto::TaskId::parse(id)) << spawn.out;

  UniOnNats::Outcome status = uni.cli({"status", "--json"});
  ASSERT_EQ(status.status.code, 0) << status.err;
  nlohmann::json report = nlohmann::json::parse(status.out);
  ASSERT_EQ(report["workers"].size(), 1u) << status.out;
  EXPECT_EQ(report["workers"][0]["pid"].get<int>(), worker.pid()) << status.out;
  ASSERT_EQ(report["services"].size(), 1u) << status.out;
  EXPECT_EQ(report["services"][0]["id"], id);
  EXPECT_EQ(report["services"][0]["function"], "sleep_ms");

  // One server: every stream has its one copy, and the cluster cannot lose it.
  ASSERT_FALSE(report["streams"].empty()) << status.out;
  for (const nlohmann::json& st : report["streams"]) {
    EXPECT_EQ(st["replicas"], 1) << st.dump();
    EXPECT_EQ(st["current"], 1) << st.dump();
  }
  EXPECT_EQ(report["survives_node_loss"], false) << status.out;

  UniOnNats::Outcome text = uni.cli({"status"});
  EXPECT_NE(text.out.find(id), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("1 worker"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("UNI_RESULTS 1/1"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("the cluster cannot lose a node"), std::string::npos) << text.out;

  UniOnNats::Outcome stop = uni.cli({"stop", id});
  EXPECT_EQ(stop.status.code, 0) << stop.out << stop.err;
  // It was running: its worker stops it (not "cancelled before it started").
  EXPECT_EQ(stop.out, "stopped " + id + "\n");
  EXPECT_TRUE(nats::testing::eventually(
      [&] {
        UniOnNats::Outcome s = uni.cli({"status", "--json"});
        return s.status.code == 0 && nlohmann::json::parse(s.out)["services"].empty();
      },
      20s));
  EXPECT_TRUE(nats::testing::eventually([&] { return running(uni) == 0; }, 20s));
}

TEST(CliOnNats, TheFactorialBossRunsUnchanged) {
  NatsCluster nats;
  UniOnNats uni(nats.address());
  ChildProcess worker = uni.worker();
  ChildOptions options;
  options.argv = {std::string(UNI_BIN_DIR) + "/factorial_boss", "--connect", nats.address(), "5",
                  "10"};
  options.output_dir = uni.dir().path();
  options.name = "factorial_boss";
  ChildProcess boss = ChildProcess::start(options);
  std::optional<ExitStatus> status = boss.wait_for(60s);
  ASSERT_TRUE(status) << boss.read_stderr();
  EXPECT_EQ(status->code, 0) << boss.read_stderr();
  EXPECT_NE(boss.read_stdout().find("120"), std::string::npos) << boss.read_stdout();
  EXPECT_NE(boss.read_stdout().find("3628800"), std::string::npos) << boss.read_stdout();
}

TEST(CliOnNats, TheEchoExampleRunsItsServicesUnchanged) {
  NatsCluster nats;
  UniOnNats uni(nats.address());
  ChildProcess worker = uni.worker(2);
  int a = free_tcp_port(), b = free_tcp_port();
  ChildOptions options;
  options.argv = {std::string(UNI_BIN_DIR) + "/echo_boss", "--connect", nats.address(), "--ports",
                  std::to_string(a) + "," + std::to_string(b)};
  options.output_dir = uni.dir().path();
  options.name = "echo_boss";
  ChildProcess boss = ChildProcess::start(options);
  std::optional<ExitStatus> status = boss.wait_for(60s);
  ASSERT_TRUE(status) << boss.read_stderr();
  EXPECT_EQ(status->code, 0) << boss.read_stderr();
  std::string out = boss.read_stdout();
  EXPECT_NE(out.find("port " + std::to_string(a) + " echoed: hello, port " + std::to_string(a)),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("server returned " + std::to_string(b)), std::string::npos) << out;
}

TEST(CliOnNats, AWrongCredentialExitsWithCode3InTimeAndSaysWhy) {
  NatsCluster nats(1, {.auth = {.user = "uni", .password = "right"}});
  // A password that the messages would not otherwise contain.
  std::string host = nats.address().substr(std::string("nats://").size());
  UniOnNats wrong("nats://uni:Xyzzy42@" + host);
  for (const char* command : {"run", "worker"}) {
    std::vector<std::string> args = {command};
    if (std::string(command) == "run") args = {"run", testfns(), "add", "1", "2"};
    ChildProcess p = wrong.start_cli(args);
    std::optional<ExitStatus> status = p.wait_for(6s);  // 5 s, and the process's own start
    ASSERT_TRUE(status) << command << " still running after 6 s";
    EXPECT_EQ(status->code, 3) << command << ": " << p.read_stderr();
    EXPECT_NE(p.read_stderr().find("authentication failed"), std::string::npos) << p.read_stderr();
    EXPECT_EQ(p.read_stderr().find("Xyzzy42"), std::string::npos) << "the password is printed";
  }
  // The right password works.
  UniOnNats right("nats://uni:right@" + host);
  ChildProcess worker = right.worker();
  EXPECT_EQ(right.cli({"run", testfns(), "add", "1", "2"}).out, "3\n");
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

TEST(CliOnNats, APoisonTaskWhoseWorkersDieStopsAtItsAttemptLimit) {
  NatsCluster nats;
  UniOnNats uni(nats.address(), {"UNI_NATS_ACK_WAIT_MS=1000"});
  ChildProcess boss =
      uni.start_cli({"run", "--max-attempts", "2", testfns(), "sleep_ms", "600000"});
  for (int attempt = 1; attempt <= 2; ++attempt) {
    ChildProcess worker = uni.worker(1, "dying-worker");
    ASSERT_TRUE(nats::testing::eventually([&] { return running(uni, worker.pid()) == 1; }, 30s))
        << "attempt " << attempt << " never ran";
    worker.kill(SIGKILL);
    worker.wait_for(5s);
  }
  ChildProcess last = uni.worker(1, "last-worker");
  std::optional<ExitStatus> status = boss.wait_for(60s);
  ASSERT_TRUE(status) << boss.read_stderr();
  EXPECT_EQ(status->code, 1) << boss.read_stderr();
  EXPECT_NE(boss.read_stderr().find("crashed"), std::string::npos) << boss.read_stderr();
  EXPECT_NE(boss.read_stderr().find("attempt limit 2"), std::string::npos) << boss.read_stderr();
}

TEST(CliOnNats, SubmitExitsAndALaterResultFindsTheResult) {
  NatsCluster nats;
  UniOnNats uni(nats.address());
  UniOnNats::Outcome submit = uni.cli({"submit", testfns(), "add", "20", "22"});
  ASSERT_EQ(submit.status.code, 0) << submit.err;
  std::string id = submit.out.substr(0, submit.out.find('\n'));
  ASSERT_TRUE(proto::TaskId::parse(id)) << submit.out;
  UniOnNats::Outcome failing = uni.cli({"submit", testfns(), "fail", "\"late\""});
  ASSERT_EQ(failing.status.code, 0) << failing.err;
  std::string failing_id = failing.out.substr(0, failing.out.find('\n'));

  // No worker yet: no result, exit 4.
  UniOnNats::Outcome early = uni.cli({"result", id});
  EXPECT_EQ(early.status.code, 4) << early.err;
  EXPECT_NE(early.err.find("no result yet"), std::string::npos) << early.err;

  ChildProcess worker = uni.worker();
  UniOnNats::Outcome result = uni.cli({"result", id, "--wait", "30"});
  EXPECT_EQ(result.status.code, 0) << result.err;
  EXPECT_EQ(result.out, "42\n");
  UniOnNats::Outcome failed = uni.cli({"result", failing_id, "--wait", "30"});
  EXPECT_EQ(failed.status.code, 1) << failed.err;
  EXPECT_NE(failed.err.find("boom: late"), std::string::npos) << failed.err;
  // Asked again later, the result is still there.
  EXPECT_EQ(uni.cli({"result", id}).out, "42\n");
  // Stopping it now says it had finished.
  UniOnNats::Outcome stop = uni.cli({"stop", id});
  EXPECT_EQ(stop.status.code, 0) << stop.err;
  EXPECT_EQ(stop.out, id + " had already finished\n");

  UniOnNats::Outcome bad = uni.cli({"result", "not-an-id"});
  EXPECT_EQ(bad.status.code, 2);
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
