// The boss and worker engines on a real nats-server, without the CLI: tasks
// go out in batches and every result comes back once; the module is uploaded
// on demand and fetched by hash; a cancel ends a queued task and keeps it from
// a worker, and says what happened to each id; a task whose earlier deliveries
// went unacked stops at its attempt
// limit; a crashed attempt is requeued; a wait limit ends a task nobody took;
// results outlive their boss; the status lists the worker and its service.
#include <gtest/gtest.h>

#include <map>

#include "engine_harness.hpp"
#include "nats/store/result_stream.hpp"
#include "nats/store/task_consumer.hpp"

namespace uni::nats {
namespace {

using proto::Status;
using proto::TaskId;

TEST(Engines, EveryTaskRunsAndEachResultComesBackOnce) {
  test::NatsCluster nats;
  BossEngine boss(config_for(nats), 0x1111);
  WorkerEngine worker(config_for(nats), identity("w1"));
  worker.set_credit(300);
  std::vector<proto::Task> sent = tasks(0x1111, 2000);
  boss.submit(kPlatform, sent);
  auto got = pump(boss, &worker, sent.size(), echo);
  ASSERT_EQ(got.size(), sent.size());
  for (const proto::Task& t : sent) {
    ASSERT_EQ(got[t.id].size(), 1u) << t.id.str();
    EXPECT_EQ(got[t.id][0].status, Status::kOk);
    EXPECT_EQ(got[t.id][0].payload, t.args);
    EXPECT_EQ(got[t.id][0].worker, "w1");
    EXPECT_EQ(got[t.id][0].host, "testhost");
  }
  EXPECT_EQ(boss.outstanding(), 0u);
  EXPECT_TRUE(testing::eventually([&] { return worker.held() == 0; }));
}

TEST(Engines, ACancelledQueuedTaskEndsAndNoWorkerRunsIt) {
  test::NatsCluster nats;
  BossEngine boss(config_for(nats), 0x2222);
  std::vector<proto::Task> sent = tasks(0x2222, 2);
  boss.submit(kPlatform, sent);
  // The module is asked for first; put it so the tasks are queued.
  auto none = pump(boss, nullptr, 1, echo, 2s);
  EXPECT_TRUE(none.empty());
  std::vector<proto::CancelOutcome> outcomes = boss.cancel({sent[0].id});
  ASSERT_EQ(outcomes.size(), 1u);
  EXPECT_EQ(outcomes[0].state, proto::CancelState::kCancelled);

  WorkerEngine worker(config_for(nats), identity("w1"));
  worker.set_credit(10);
  std::vector<TaskId> ran;
  auto got = pump(boss, &worker, 2, [&](const proto::Task& t) {
    ran.push_back(t.id);
    return echo(t);
  });
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[sent[0].id].at(0).status, Status::kCancelled);
  EXPECT_EQ(got[sent[1].id].at(0).status, Status::kOk);
  EXPECT_EQ(ran, std::vector<TaskId>{sent[1].id});
  // The cancelled task's message was acked too: the queue is empty.
  Connection c = Connection::connect({.address = nats.address()});
  JetStream js(c);
  TaskQueue queue = TaskQueue::open(js, Names(), kPlatform);
  EXPECT_TRUE(testing::eventually([&] { return queue.depth() == 0; }));
}

// Cancel answers what happened to each id: a finished task is `done`, an id
// this boss never submitted `unknown`, and so is a finished task of another
// session (looked up in the stored results) `done`.
TEST(Engines, ACancelSaysWhatHappenedToEachTask) {
  test::NatsCluster nats;
  BossEngine boss(config_for(nats), 0x2323);
  WorkerEngine worker(config_for(nats), identity("w1"));
  worker.set_credit(10);
  std::vector<proto::Task> sent = tasks(0x2323, 1);
  boss.submit(kPlatform, sent);
  ASSERT_EQ(pump(boss, &worker, 1, echo).size(), 1u);
  EXPECT_TRUE(testing::eventually([&] { return worker.held() == 0; }));

  const TaskId never{0x2323, 99};
  std::vector<proto::CancelOutcome> own = boss.cancel({sent[0].id, never});
  ASSERT_EQ(own.size(), 2u);
  EXPECT_EQ(own[0].state, proto::CancelState::kDone);
  EXPECT_EQ(own[1].state, proto::CancelState::kUnknown);

  BossEngine other(config_for(nats), 0x2424);  // as `uni stop ID` is
  std::vector<proto::CancelOutcome> theirs = other.cancel({sent[0].id});
  ASSERT_EQ(theirs.size(), 1u);
  EXPECT_EQ(theirs[0].state, proto::CancelState::kDone);
}

TEST(Engines, ATaskWhoseWorkersDiedStopsAtItsAttemptLimit) {
  test::NatsCluster nats;
  EngineConfig config = config_for(nats, 500ms);
  BossEngine boss(config, 0x3333);
  std::vector<proto::Task> sent = tasks(0x3333, 1, /*max_attempts=*/2);
  boss.submit(kPlatform, sent);
  pump(boss, nullptr, 1, echo, 1s);  // the module goes up

  // Two workers take it and die without a word (nothing acked).
  Connection c = Connection::connect({.address = nats.address()});
  JetStream js(c);
  TaskQueue queue = TaskQueue::open(js, Names(), kPlatform);
  TaskConsumer dying = TaskConsumer::bind(queue, Names(), {.ack_wait = 500ms, .max_deliver = 5});
  for (int i = 0; i < 2; ++i) {
    std::vector<TaskDelivery> d;
    ASSERT_TRUE(testing::eventually([&] {
      d = dying.fetch(1, 200ms);
      return !d.empty();
    }));
    EXPECT_EQ(d[0].attempt(), static_cast<std::uint64_t>(i + 1));
  }
  WorkerEngine worker(config, identity("w1"));
  worker.set_credit(10);
  int ran = 0;
  auto got = pump(boss, &worker, 1, [&](const proto::Task& t) {
    ++ran;
    return echo(t);
  });
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got.begin()->second[0].status, Status::kCrashed);
  EXPECT_NE(got.begin()->second[0].payload.find("attempt limit 2"), std::string::npos);
  EXPECT_EQ(ran, 0);
}

TEST(Engines, ACrashedAttemptIsQueuedAgainWithTheNextAttempt) {
  test::NatsCluster nats;
  BossEngine boss(config_for(nats), 0x4444);
  WorkerEngine worker(config_for(nats), identity("w1"));
  worker.set_credit(10);
  std::vector<proto::Task> sent = tasks(0x4444, 3);
  boss.submit(kPlatform, sent);
  std::map<TaskId, int> runs;
  auto got = pump(boss, &worker, 3, [&](const proto::Task& t) {
    proto::Result r = echo(t);
    if (++runs[t.id] == 1 && t.id == sent[1].id) {
      r.status = Status::kCrashed;
      r.payload = "executor died";
    }
    return r;
  });
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[sent[1].id].at(0).status, Status::kOk);
  EXPECT_EQ(got[sent[1].id].at(0).attempt, 2);
  EXPECT_EQ(runs[sent[1].id], 2);
  EXPECT_EQ(runs[sent[0].id], 1);
}

TEST(Engines, AWaitLimitEndsATaskNoWorkerTook) {
  test::NatsCluster nats;
  BossEngine boss(config_for(nats), 0x5555);
  std::vector<proto::Task> sent = tasks(0x5555, 1);
  sent[0].wait_ms = 300;
  boss.submit(kPlatform, sent);
  auto got = pump(boss, nullptr, 1, echo, 5s);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got.begin()->second[0].status, Status::kNoWorker);
  EXPECT_NE(got.begin()->second[0].payload.find(kPlatform), std::string::npos);
}

TEST(Engines, AResultOutlivesItsBoss) {
  test::NatsCluster nats;
  std::vector<proto::Task> sent = tasks(0x6666, 1);
  {
    BossEngine boss(config_for(nats), 0x6666);
    boss.submit(kPlatform, sent);
    pump(boss, nullptr, 1, echo, 1s);  // the module goes up
  }
  {
    BossEngine other(config_for(nats), 0x7777);  // only to drive the worker
    WorkerEngine worker(config_for(nats), identity("w1"));
    worker.set_credit(10);
    pump(other, &worker, 1, echo, 2s);
    EXPECT_TRUE(testing::eventually([&] { return worker.held() == 0; }));
  }
  Connection c = Connection::connect({.address = nats.address()});
  JetStream js(c);
  ResultStream results = ResultStream::open(js, Names());
  std::optional<proto::Result> found = results.wait_for(sent[0].id, 10s);
  ASSERT_TRUE(found);
  EXPECT_EQ(found->payload, sent[0].args);
}

TEST(Engines, TheStatusListsLiveWorkersAndTheirServices) {
  test::NatsCluster nats;
  BossEngine boss(config_for(nats), 0x8888);
  WorkerEngine worker(config_for(nats), identity("w-status"));
  worker.set_credit(10);
  std::vector<proto::Task> sent = tasks(0x8888, 1);
  sent[0].flags = proto::kFlagService;
  sent[0].function = "serve";
  boss.submit(kPlatform, sent);
  // Run the worker until it holds the service, then report it started.
  bool holding = false;
  ASSERT_TRUE(testing::eventually([&] {
    BossEvents b = boss.take();
    for (const ModuleHash& h : b.modules_needed) boss.put_module(h, kPlatform, kModuleBytes);
    for (proto::Task& t : worker.take().tasks) holding |= t.id == sent[0].id;
    return holding;
  }));
  worker.heartbeat(1, {sent[0].id});
  proto::StatusReport report;
  ASSERT_TRUE(testing::eventually([&] {
    report = boss.status();
    return !report.services.empty() && report.services[0].state == proto::ServiceState::kRunning;
  }));
  ASSERT_EQ(report.workers.size(), 1u);
  EXPECT_EQ(report.workers[0].id, "w-status");
  EXPECT_EQ(report.workers[0].platform, kPlatform);
  EXPECT_EQ(report.workers[0].slots, 4u);
  EXPECT_EQ(report.running, 1u);
  ASSERT_EQ(report.services.size(), 1u);
  EXPECT_EQ(report.services[0].id, sent[0].id.str());
  EXPECT_EQ(report.services[0].function, "serve");
  EXPECT_EQ(report.services[0].worker, "w-status");
  // Its result removes it from the list.
  proto::Result r = echo(sent[0]);
  worker.send_results({&r});
  ASSERT_TRUE(testing::eventually([&] { return boss.status().services.empty(); }));
}

}  // namespace
}  // namespace uni::nats
