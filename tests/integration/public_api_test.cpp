// What the public API (include/uni/uni.hpp) offers beyond typed calls, which
// the `uni` CLI is built on alone: untyped calls with msgpack in and out,
// cancel and stop by id with what each did, detached services that report
// their start, the typed status (every field the manager sends) and its
// JSON, Future::failed; gather() cancels the tasks it
// will not wait for once one has failed; and the library logs to stderr, not
// stdout, in a boss that never set up logging.
#include <gtest/gtest.h>

#include <msgpack.hpp>
#include <nlohmann/json.hpp>
#include <thread>

#include "test_cluster.hpp"

namespace uni::test {
namespace {

using namespace std::chrono_literals;

template <typename... Args>
Msgpack pack(Args... args) {
  msgpack::sbuffer b;
  msgpack::pack(b, std::make_tuple(args...));
  return {std::string(b.data(), b.size())};
}

TEST(PublicApi, UntypedCallsTakeAndGiveMsgpackAndFailAsTypedOnesDo) {
  TestCluster cluster({.workers = 1, .slots = 2});
  Cluster boss = cluster.connect();
  Future<Msgpack> sum = boss.call(module_path("testfns"), "add", pack(2, 3));
  std::string bytes = sum.get().bytes;
  msgpack::object_handle h = msgpack::unpack(bytes.data(), bytes.size());
  EXPECT_EQ(h->as<int>(), 5);

  Future<Msgpack> wrong = boss.call(module_path("testfns"), "add", pack(std::string("x"), 3));
  try {
    wrong.get();
    ADD_FAILURE() << "add(\"x\", 3) returned";
  } catch (const TaskError& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kBadArguments) << e.what();
  }
  EXPECT_THROW(boss.call(module_path("no-such-module"), "add", pack(1, 2)), ModuleError);
}

TEST(PublicApi, CancelByIdSaysWhatItDidToEachTask) {
  TestCluster cluster({.workers = 1, .slots = 1});
  Cluster boss = cluster.connect();
  Future<Msgpack> done = boss.call(module_path("testfns"), "add", pack(1, 1));
  ASSERT_TRUE(done.wait_for(60s)) << "the quick task never ran";
  Future<Msgpack> running = boss.call(module_path("testfns"), "sleep_ms", pack(60000));
  for (int i = 0; i < 400 && boss.status().running == 0; ++i) std::this_thread::sleep_for(50ms);
  std::vector<CancelResult> results = boss.cancel({running.id(), "1234abcd-99"});
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[0], CancelResult::kStopping);
  EXPECT_EQ(results[1], CancelResult::kUnknown);
  EXPECT_THROW(boss.cancel({"not-an-id"}), Error);
  EXPECT_FALSE(valid_task_id("not-an-id"));
  EXPECT_TRUE(valid_task_id(done.id()));
  try {
    running.get();
    ADD_FAILURE() << "a stopped task returned";
  } catch (const TaskError& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kCancelled) << e.what();
  }
}

TEST(PublicApi, ADetachedServiceReportsItsStartAndOutlivesItsBoss) {
  TestCluster cluster({.workers = 1, .slots = 1});
  std::string id;
  {
    Cluster boss = cluster.connect();
    Service<Msgpack> service =
        boss.spawn(module_path("testfns"), "sleep_ms", pack(60000), {}, /*detached=*/true);
    ASSERT_TRUE(service.wait_started_for(60s)) << "the service never started";
    EXPECT_FALSE(service.future().ready());
    id = service.id();
    ClusterStatus status = boss.status();
    ASSERT_EQ(status.services.size(), 1u);
    EXPECT_EQ(status.services[0].id, id);
    EXPECT_TRUE(status.services[0].started);
    EXPECT_EQ(status.services[0].state, "running");
    nlohmann::json json = nlohmann::json::parse(to_json(status));
    EXPECT_EQ(json["services"][0]["id"], id) << json.dump();
    EXPECT_EQ(json["workers"].size(), 1u) << json.dump();
  }
  // Its boss is gone; it runs on until stopped by id.
  Cluster other = cluster.connect();
  ClusterStatus status = other.status();
  ASSERT_EQ(status.services.size(), 1u);
  EXPECT_EQ(status.services[0].id, id);
  EXPECT_EQ(other.cancel({id}).at(0), CancelResult::kStopping);
}

// Every field the manager reports reaches the typed status and its JSON:
// what each worker did, the failures it remembers, the services' modules.
TEST(PublicApi, TheTypedStatusCarriesWhatEachWorkerDidAndTheRecentFailures) {
  TestCluster cluster({.workers = 1, .slots = 1});
  Cluster boss = cluster.connect();
  Future<Msgpack> ok = boss.call(module_path("testfns"), "add", pack(2, 3));
  Future<Msgpack> bad = boss.call(module_path("testfns"), "fail", pack(std::string("on purpose")));
  ASSERT_TRUE(ok.wait_for(60s) && bad.wait_for(60s)) << "the tasks never ran";
  EXPECT_FALSE(ok.failed());
  EXPECT_TRUE(bad.failed());
  // The one slot busy with a service, a task waits in the queue: cancelled.
  Service<Msgpack> service =
      boss.spawn(module_path("testfns"), "sleep_ms", pack(60000), {}, /*detached=*/true);
  ASSERT_TRUE(service.wait_started_for(60s)) << "the service never started";
  EXPECT_FALSE(service.future().failed());  // running: not failed (yet)
  Future<Msgpack> queued = boss.call(module_path("testfns"), "add", pack(1, 1));
  ASSERT_EQ(boss.cancel({queued.id()}).at(0), CancelResult::kCancelled);
  ASSERT_TRUE(queued.wait_for(30s));
  EXPECT_TRUE(queued.failed());

  ClusterStatus status = boss.status();
  ASSERT_EQ(status.workers.size(), 1u);
  const WorkerStatus& worker = status.workers[0];
  EXPECT_EQ(worker.completed, 1u);
  EXPECT_EQ(worker.failed, 1u);  // the cancelled task never reached it
  EXPECT_EQ(status.totals.completed, 1u);
  // A cancelled task is counted apart: no failure, not in the recent ones.
  EXPECT_EQ(status.totals.failed, 1u);
  EXPECT_EQ(status.totals.cancelled, 1u);
  ASSERT_EQ(status.recent_failures.size(), 1u);
  const FailureStatus& failure = status.recent_failures[0];
  EXPECT_EQ(failure.id, bad.id());
  EXPECT_EQ(failure.function, "fail");
  EXPECT_EQ(failure.status, to_string(ErrorKind::kException));
  EXPECT_NE(failure.error.find("boom: on purpose"), std::string::npos) << failure.error;
  EXPECT_EQ(failure.worker, worker.id);
  ASSERT_EQ(status.services.size(), 1u);
  const ServiceStatus& running = status.services[0];
  EXPECT_EQ(running.module.size(), 64u) << running.module;
  EXPECT_EQ(running.becomes, 0u);
  EXPECT_EQ(running.host, worker.host);

  // The JSON has them under the wire's keys (as `uni status --json`).
  nlohmann::json json = nlohmann::json::parse(to_json(status));
  EXPECT_EQ(json["workers"][0]["completed"], 1) << json.dump();
  EXPECT_EQ(json["workers"][0]["failed"], 1) << json.dump();
  EXPECT_EQ(json["workers"][0]["uptime_ms"], worker.uptime_ms) << json.dump();
  EXPECT_EQ(json["totals"]["cancelled"], 1) << json.dump();
  EXPECT_EQ(json["uptime_ms"], status.uptime_ms) << json.dump();
  EXPECT_EQ(json["recent_failures"].size(), 1u) << json.dump();
  EXPECT_EQ(json["recent_failures"][0]["error"], failure.error) << json.dump();
  EXPECT_EQ(json["services"][0]["module"], running.module) << json.dump();
  EXPECT_EQ(json["services"][0]["uptime_ms"], running.uptime_ms) << json.dump();
  EXPECT_EQ(boss.cancel({service.id()}).at(0), CancelResult::kStopping);
}

TEST(PublicApi, GatherCancelsTheTasksItWillNotWaitForOnceOneFailed) {
  TestCluster cluster({.workers = 1, .slots = 1});
  Cluster boss = cluster.connect();
  auto sleeper = boss.function<int(int)>(module_path("testfns"), "sleep_ms");
  auto failer = boss.function<int(std::string)>(module_path("testfns"), "fail");
  std::vector<Future<int>> futures{failer("first"), sleeper(60000), sleeper(60000)};
  EXPECT_THROW(gather(futures), TaskError);
  for (std::size_t i = 1; i < futures.size(); ++i) {
    ASSERT_TRUE(futures[i].wait_for(30s)) << "task " << i << " was left running";
    try {
      futures[i].get();
      ADD_FAILURE() << "task " << i << " ran to its end";
    } catch (const TaskError& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kCancelled) << e.what();
    }
  }
}

TEST(PublicApi, TheLibraryLogsToStderrInABossThatNeverSetUpLogging) {
  TestCluster cluster({.workers = 1});
  CommandResult r =
      cluster.run({bin_path("factorial_boss"), "5"}, {.env = {"UNI_LOG_LEVEL=debug"}});
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  ASSERT_EQ(r.lines().size(), 1u) << r.describe();
  EXPECT_EQ(r.lines()[0].rfind(" 5! = 120", 0), 0u) << r.describe();
  EXPECT_NE(r.err.find("connected to the manager at " + cluster.address()), std::string::npos)
      << r.describe();
}

}  // namespace
}  // namespace uni::test
