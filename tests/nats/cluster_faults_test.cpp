// The wired NATS broker on a 3-node cluster with uni's default settings (no
// replica setting: every stream and bucket gets 3 replicas from the cluster),
// with real `uni` processes: a map of 20,000 tasks during which any one NATS
// node is killed with SIGKILL (one that leads no task stream, the task
// stream's leader, or one at random while the cluster and its workers are
// still coming up) prints every result exactly once and in order; a worker
// killed in the middle of a map has its tasks redelivered, and the map
// completes; a submitted task survives its boss, a node and its worker.
#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <thread>

#include "nats/client/jetstream.hpp"
#include "nats_test_util.hpp"
#include "uni/detail/platform.hpp"
#include "uni_on_nats.hpp"

namespace uni::test {
namespace {

using namespace std::chrono_literals;

const std::string kTaskStream = std::string("UNI_TASKS_") + UNI_PLATFORM_TAG;

std::string slowident() { return module_path("slowident"); }

// Waits until the map has printed at least `lines` results.
bool printed(ChildProcess& map, std::size_t lines, std::chrono::milliseconds timeout = 120s) {
  return nats::testing::eventually(
      [&] { return count_lines(map.read_stdout()) >= lines || !map.running(); }, timeout);
}

struct Outcome {
  ExitStatus status;
  std::string out, err;
};

Outcome finish(ChildProcess& map, std::chrono::milliseconds timeout = 240s) {
  std::optional<ExitStatus> status = map.wait_for(timeout);
  if (!status) {
    map.kill();
    return {ExitStatus{true, SIGKILL}, map.read_stdout(), map.read_stderr() + " (timed out)"};
  }
  return {*status, map.read_stdout(), map.read_stderr()};
}

constexpr int kTasks = 20000;

// The replicas of each stream uni made, through the nodes still running.
std::map<std::string, int> replicas(NatsCluster& nats, const std::vector<std::string>& streams) {
  std::string running;
  for (int i = 0; i < nats.size(); ++i)
    if (nats.node(i).running()) running += (running.empty() ? "" : ",") + nats.node(i).url();
  nats::Connection connection = nats::Connection::connect({.address = running});
  nats::JetStream js(connection, 10s);
  std::map<std::string, int> out;
  for (const std::string& stream : streams)
    if (std::optional<nats::StreamState> state = js.stream_state(stream))
      out[stream] = state->replicas;
  return out;
}

const std::vector<std::string> kStreams = {kTaskStream, "UNI_RESULTS", "UNI_CANCELS",
                                           "OBJ_uni_modules", "KV_uni_workers"};

// Kills node `victim(cluster)` once the map is well under way; the map must
// still print every result once, in order. No replica setting: uni gives
// every stream 3 replicas on a cluster of 3.
void map_through_a_node_kill(const std::function<int(NatsCluster&)>& victim) {
  NatsCluster nats(3);
  nats.wait_jetstream_ready();
  UniOnNats uni(nats.address(), {"UNI_NATS_ACK_WAIT_MS=5000"});
  ChildProcess w1 = uni.worker(4, "worker1");
  ChildProcess w2 = uni.worker(4, "worker2");
  ChildProcess map =
      uni.start_cli({"map", slowident(), "slow_ident"}, slow_ident_input(kTasks, 1), "map");
  ASSERT_TRUE(printed(map, 2000)) << map.read_stderr();
  ASSERT_TRUE(map.running()) << "the map ended before the kill: " << map.read_stderr();
  for (const auto& [stream, count] : replicas(nats, kStreams)) EXPECT_EQ(count, 3) << stream;
  int node = victim(nats);
  ASSERT_GE(node, 0);
  nats.node(node).kill();
  Outcome out = finish(map);
  EXPECT_EQ(out.status.code, 0) << out.err << nats.logs();
  EXPECT_TRUE(results_in_order(out.out, kTasks)) << out.err;
}

TEST(ClusterFaults, AMapOf20000SurvivesANodeKilled) {
  map_through_a_node_kill([](NatsCluster& nats) {
    int leader = nats.stream_leader(kTaskStream);
    return leader == 0 ? 1 : 0;  // a node that does not lead the task stream
  });
}

TEST(ClusterFaults, AMapOf20000SurvivesTheTaskStreamLeaderKilled) {
  map_through_a_node_kill([](NatsCluster& nats) { return nats.wait_stream_leader(kTaskStream); });
}

// As it was seen to lose tasks 0-14 (with 3 replicas set): the map and its
// workers start while the cluster is still electing its leaders, the first
// module and stream requests time out, and a node dies 2 s in.
TEST(ClusterFaults, AMapStartedWhileTheClusterComesUpSurvivesANodeKilled) {
  NatsCluster nats(3);  // not waited for: JetStream is still electing
  UniOnNats uni(nats.address(), {"UNI_NATS_ACK_WAIT_MS=5000"});
  ChildProcess w1 = uni.start_cli({"worker", "--slots", "4"}, {}, "worker1");
  ChildProcess map =
      uni.start_cli({"map", slowident(), "slow_ident"}, slow_ident_input(kTasks, 1), "map");
  ChildProcess w2 = uni.start_cli({"worker", "--slots", "4"}, {}, "worker2");
  std::this_thread::sleep_for(2s);
  const int victim = static_cast<int>(std::random_device{}() % 3);
  nats.node(victim).kill();
  Outcome out = finish(map);
  EXPECT_EQ(out.status.code, 0) << "node n" << victim + 1 << " killed\n" << out.err;
  EXPECT_TRUE(results_in_order(out.out, kTasks)) << "node n" << victim + 1 << " killed\n"
                                                 << out.err;
}

// `uni status --json` on the cluster, parsed; null if it failed.
nlohmann::json status_of(UniOnNats& uni) {
  UniOnNats::Outcome s = uni.cli({"status", "--json"});
  return s.status.code == 0 ? nlohmann::json::parse(s.out) : nlohmann::json();
}

// `uni status` says how many replicas each stream keeps and whether the
// cluster can lose a node: yes on 3 nodes with the defaults, no once a node
// is down (2 of 3 live).
TEST(ClusterFaults, StatusSaysTheReplicasAndWhetherTheClusterCanLoseANode) {
  NatsCluster nats(3);
  nats.wait_jetstream_ready();
  UniOnNats uni(nats.address());
  ChildProcess worker = uni.worker(1);
  UniOnNats::Outcome run = uni.cli({"run", slowident(), "slow_ident", "7", "0"});
  ASSERT_EQ(run.out, "7\n") << run.err;
  nlohmann::json report;
  EXPECT_TRUE(nats::testing::eventually(
      [&] {
        report = status_of(uni);
        return report.is_object() && report.value("survives_node_loss", false);
      },
      30s))
      << report.dump();
  std::set<std::string> names;
  for (const nlohmann::json& st : report["streams"]) {
    names.insert(st["name"].get<std::string>());
    EXPECT_EQ(st["replicas"], 3) << st.dump();
  }
  for (const std::string& stream : kStreams) EXPECT_EQ(names.count(stream), 1u) << stream;
  UniOnNats::Outcome text = uni.cli({"status"});
  EXPECT_NE(text.out.find("UNI_RESULTS 3/3"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("the cluster can lose any one node"), std::string::npos) << text.out;

  nats.node(2).kill();
  EXPECT_TRUE(nats::testing::eventually(
      [&] {
        report = status_of(uni);
        return report.is_object() && !report.value("streams", nlohmann::json::array()).empty() &&
               !report.value("survives_node_loss", true);
      },
      60s))
      << report.dump();
  text = uni.cli({"status"});
  EXPECT_NE(text.out.find("the cluster cannot lose a node"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("2 of 3 live"), std::string::npos) << text.out;
}

// Commands wait through a cluster that lost its quorum (2 of 3 nodes down)
// until it has one again, and say what they wait for: `uni submit` exited 2
// after 5 s ("...: Timeout"). (`uni status` waits too, but its reading of
// the registries can outlast its 30 s while there is no quorum: not tested.)
TEST(ClusterFaults, CommandsWaitForTheClusterToRegainItsQuorum) {
  NatsCluster nats(3);
  nats.wait_jetstream_ready();
  UniOnNats uni(nats.address());
  ChildProcess worker = uni.worker(1);
  ASSERT_EQ(uni.cli({"run", slowident(), "slow_ident", "1", "0"}).out, "1\n");
  nats.node(1).kill();
  nats.node(2).kill();
  ChildProcess submit =
      uni.start_cli({"submit", slowident(), "slow_ident", "5", "0"}, {}, "submit");
  std::this_thread::sleep_for(7s);  // longer than a request's timeout (5 s)
  EXPECT_TRUE(submit.running()) << submit.read_stderr();
  nats.node(1).restart();
  std::optional<ExitStatus> submitted = submit.wait_for(90s);
  ASSERT_TRUE(submitted) << submit.read_stderr();
  EXPECT_EQ(submitted->code, 0) << submit.read_stderr();
  EXPECT_NE(submit.read_stderr().find("waiting for the NATS cluster"), std::string::npos)
      << submit.read_stderr();
  const std::string id = submit.read_stdout().substr(0, submit.read_stdout().find('\n'));
  UniOnNats::Outcome result = uni.cli({"result", id, "--wait", "60"}, {}, 90s);
  EXPECT_EQ(result.out, "5\n") << result.err;
}

TEST(ClusterFaults, AWorkerKilledMidMapHasItsTasksRedelivered) {
  NatsCluster nats(3);
  nats.wait_jetstream_ready();
  UniOnNats uni(nats.address(), {"UNI_NATS_ACK_WAIT_MS=2000"});
  ChildProcess w1 = uni.worker(2, "worker1");
  ChildProcess w2 = uni.worker(2, "worker2");
  const int tasks = 2000;
  ChildProcess map =
      uni.start_cli({"map", slowident(), "slow_ident"}, slow_ident_input(tasks, 2), "map");
  ASSERT_TRUE(printed(map, 200)) << map.read_stderr();
  ASSERT_TRUE(map.running());
  w1.kill(SIGKILL);
  Outcome out = finish(map);
  EXPECT_EQ(out.status.code, 0) << out.err;
  EXPECT_TRUE(results_in_order(out.out, tasks)) << out.err;
}

TEST(ClusterFaults, ASubmittedTaskSurvivesItsBossANodeAndItsWorker) {
  NatsCluster nats(3);
  nats.wait_jetstream_ready();
  UniOnNats uni(nats.address(), {"UNI_NATS_ACK_WAIT_MS=2000"});
  UniOnNats::Outcome submit = uni.cli({"submit", slowident(), "slow_ident", "77", "3000"});
  ASSERT_EQ(submit.status.code, 0) << submit.err;
  std::string id = submit.out.substr(0, submit.out.find('\n'));
  // The boss has exited. A node dies; a worker takes the task and dies too.
  nats.node(nats.wait_stream_leader(kTaskStream)).kill();
  // What is tested is that the task survives, not how soon the cluster
  // recovers: let the two nodes left elect their leaders first.
  nats.wait_jetstream_ready(120s);
  nats.wait_stream_leader(kTaskStream, 120s);
  {
    ChildProcess doomed = uni.worker(1, "doomed");
    std::this_thread::sleep_for(1s);  // it takes the task (which runs 3 s)
    doomed.kill(SIGKILL);
  }
  ChildProcess worker = uni.worker(1, "survivor");
  UniOnNats::Outcome result = uni.cli({"result", id, "--wait", "60"}, {}, 90s);
  EXPECT_EQ(result.status.code, 0) << result.err;
  EXPECT_EQ(result.out, "77\n");
}

}  // namespace
}  // namespace uni::test
