// `uni status` and cancel on NATS tell what the built-in manager tells, on a
// real nats-server with the boss and worker engines: the queue and the
// assigned count are tasks, not messages (batches of 100); the totals are the
// live workers' and bosses' counts; connected bosses are counted and one that
// leaves is not; a service no worker runs yet is listed `queued`; a cancel of
// another session's id that was never handed out answers `unknown`. The same
// through the CLI, on both brokers: tests/behaviour/status_test.cpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "nats/boss/boss_engine.hpp"
#include "nats/boss/detached_tasks.hpp"
#include "nats/store/task_queue.hpp"
#include "nats/worker/worker_engine.hpp"
#include "nats_server.hpp"
#include "nats_test_util.hpp"
#include "uni_on_nats.hpp"

namespace uni::nats {
namespace {

using namespace std::chrono_literals;
using proto::Status;
using proto::TaskId;

const std::string kPlatform = "x86_64-linux-libstdc++-cxx11";
const std::string kModuleBytes = "module bytes";

EngineConfig config_for(const test::NatsCluster& nats) {
  EngineConfig config;
  config.connect.address = nats.address();
  return config;
}

WorkerIdentity identity(const std::string& id) {
  return {.id = id,
          .host = "testhost",
          .platform = kPlatform,
          .isolation = "thread",
          .pid = 42,
          .slots = 4};
}

// Answers the boss's requests for the module, as the client does.
void serve_modules(BossEngine& boss) {
  for (const ModuleHash& hash : boss.take().modules_needed)
    boss.put_module(hash, kPlatform, kModuleBytes);
}

// The tasks the worker is given until it holds `count` (or 10 s passed).
std::vector<proto::Task> take_tasks(BossEngine& boss, WorkerEngine& worker, std::size_t count) {
  std::vector<proto::Task> got;
  testing::eventually([&] {
    serve_modules(boss);
    for (proto::Task& t : worker.take().tasks) got.push_back(std::move(t));
    return got.size() >= count;
  });
  return got;
}

proto::Result result_of(const proto::Task& t, Status status) {
  proto::Result r;
  r.id = t.id;
  r.status = status;
  r.payload = status == Status::kOk ? t.args : "it failed";
  r.attempt = t.attempt;
  return r;
}

const proto::StatusReport::Service* find_service(const proto::StatusReport& report,
                                                 const TaskId& id) {
  auto it = std::find_if(report.services.begin(), report.services.end(),
                         [&](const auto& s) { return s.id == id.str(); });
  return it == report.services.end() ? nullptr : &*it;
}

// 250 tasks go out as 3 messages (100, 100, 50): the status counts 250
// queued. A worker that takes one message holds 100 (`assigned`), 150 stay
// queued; what it stored shows in its counts and the totals.
TEST(NatsStatus, QueueAndAssignedCountTasksNotMessages) {
  test::NatsCluster nats;
  BossEngine boss(config_for(nats), 0x5100);
  boss.put_module(ModuleHash::of(kModuleBytes), kPlatform, kModuleBytes);
  boss.submit(kPlatform, testing::make_tasks(0x5100, 1, 250));
  proto::StatusReport report;
  ASSERT_TRUE(testing::eventually([&] {
    serve_modules(boss);
    report = boss.status();
    return report.queue == 250 && report.totals.submitted == 250;
  })) << "queue "
      << report.queue << ", submitted " << report.totals.submitted;
  EXPECT_EQ(report.assigned, 0u);
  EXPECT_EQ(report.bosses, 1u);

  WorkerEngine worker(config_for(nats), identity("w-count"));
  worker.set_credit(1);  // one message, then no room
  std::vector<proto::Task> held = take_tasks(boss, worker, 100);
  ASSERT_EQ(held.size(), 100u);
  worker.heartbeat(0, {});
  ASSERT_TRUE(testing::eventually([&] {
    report = boss.status();
    return report.assigned == 100;
  })) << "assigned "
      << report.assigned;
  EXPECT_EQ(report.queue, 150u);
  ASSERT_EQ(report.workers.size(), 1u);
  EXPECT_EQ(report.workers[0].assigned, 100u);

  // 30 ok, 5 failed, 1 cancelled: stored; the message stays held for the rest.
  std::vector<proto::Result> results;
  for (int i = 0; i < 36; ++i)
    results.push_back(result_of(held[static_cast<std::size_t>(i)], i < 30   ? Status::kOk
                                                                   : i < 35 ? Status::kException
                                                                            : Status::kCancelled));
  std::vector<const proto::Result*> ptrs;
  for (const proto::Result& r : results) ptrs.push_back(&r);
  worker.send_results(ptrs);
  ASSERT_TRUE(testing::eventually([&] { return worker.held() == 64; }));
  worker.heartbeat(0, {});
  ASSERT_TRUE(testing::eventually([&] {
    report = boss.status();
    return report.totals.completed == 30;
  })) << "completed "
      << report.totals.completed;
  EXPECT_EQ(report.totals.failed, 5u);  // a cancelled task is no failure
  EXPECT_EQ(report.totals.cancelled, 1u);
  EXPECT_EQ(report.assigned, 64u);
  EXPECT_EQ(report.queue, 150u);
  EXPECT_EQ(report.workers[0].completed, 30u);
  EXPECT_EQ(report.workers[0].failed, 5u);
  EXPECT_GT(report.workers[0].uptime_ms, 0u);
}

// Tasks submitted before their module is stored wait for it, and then go
// out packed as any map's tasks are: 250 tasks make 3 messages, not 250.
TEST(NatsStatus, TasksThatWaitedForTheirModuleGoOutPackedNotOneToAMessage) {
  test::NatsCluster nats;
  BossEngine boss(config_for(nats), 0x5200);
  boss.submit(kPlatform, testing::make_tasks(0x5200, 1, 250));
  proto::StatusReport report;
  ASSERT_TRUE(testing::eventually([&] {
    serve_modules(boss);
    report = boss.status();
    return report.queue == 250;
  })) << "queue "
      << report.queue;
  Connection c = Connection::connect({.address = nats.address()});
  JetStream js(c);
  TaskQueue queue = TaskQueue::open(js, Names(), kPlatform);
  EXPECT_EQ(queue.depth(), 3u);
}

TEST(NatsStatus, ConnectedBossesAreCountedAndOneThatLeavesIsNot) {
  test::NatsCluster nats;
  BossEngine first(config_for(nats), 0x5200);
  proto::StatusReport report;
  {
    BossEngine second(config_for(nats), 0x5201);
    ASSERT_TRUE(testing::eventually([&] {
      report = first.status();
      return report.bosses == 2;
    })) << report.bosses
        << " bosses";
  }
  // Removed as it closed, not 3 s later when its entry would expire.
  ASSERT_TRUE(testing::eventually([&] { return first.status().bosses == 1; }, 2s));
}

// A service no worker has taken is listed `queued` (its boss puts it with
// its own entry); once a worker reports it running it is listed so, on that
// worker; its result removes it.
TEST(NatsStatus, AQueuedServiceIsListedUntilAWorkerRunsIt) {
  test::NatsCluster nats;
  BossEngine boss(config_for(nats), 0x5300);
  std::vector<proto::Task> sent = testing::make_tasks(0x5300, 1, 1);
  sent[0].flags = proto::kFlagService;
  sent[0].function = "serve";
  boss.submit(kPlatform, sent);
  proto::StatusReport report;
  ASSERT_TRUE(testing::eventually([&] {
    serve_modules(boss);
    report = boss.status();
    return find_service(report, sent[0].id) != nullptr;
  }));
  const proto::StatusReport::Service* queued = find_service(report, sent[0].id);
  EXPECT_EQ(queued->state, proto::ServiceState::kQueued);
  EXPECT_EQ(queued->function, "serve");
  EXPECT_EQ(queued->worker, "");
  EXPECT_FALSE(queued->started);

  WorkerEngine worker(config_for(nats), identity("w-serve"));
  worker.set_credit(10);
  ASSERT_EQ(take_tasks(boss, worker, 1).size(), 1u);
  worker.heartbeat(1, {sent[0].id});
  ASSERT_TRUE(testing::eventually([&] {
    report = boss.status();
    const auto* s = find_service(report, sent[0].id);
    return s != nullptr && s->state == proto::ServiceState::kRunning;
  }));
  EXPECT_EQ(report.services.size(), 1u);  // once, not also as queued
  EXPECT_EQ(find_service(report, sent[0].id)->worker, "w-serve");

  proto::Result r = result_of(sent[0], Status::kOk);
  worker.send_results({&r});
  ASSERT_TRUE(testing::eventually([&] {
    boss.take();
    return boss.status().services.empty();
  }));
}

// Another process cancels ids of a session whose boss left: one it
// submitted is `cancelled` (and its result stored); one past what it handed
// out, and one of a session that never was, are `unknown`. A task of `uni
// submit` is known too.
TEST(NatsStatus, ACancelOfAnotherSessionsIdNeverHandedOutIsUnknown) {
  test::NatsCluster nats;
  std::vector<proto::Task> sent = testing::make_tasks(0x5400, 1, 2);
  {
    BossEngine left(config_for(nats), 0x5400);
    left.submit(kPlatform, sent);
    ASSERT_TRUE(testing::eventually([&] {
      serve_modules(left);
      return left.status().queue > 0;  // stored
    }));
  }
  DetachedSubmission detached;
  detached.module = ModuleHash::of(kModuleBytes);
  detached.platform = kPlatform;
  detached.module_bytes = kModuleBytes;
  detached.function = "ident";
  detached.args = std::string("\x91\x01", 2);
  const TaskId submitted = submit_detached(config_for(nats), detached);

  BossEngine other(config_for(nats), 0x5500);  // as `uni cancel ID` is
  const TaskId past_the_last{0x5400, 3};
  const TaskId no_such_session{0x5401, 1};
  std::vector<proto::CancelOutcome> outcomes =
      other.cancel({sent[1].id, past_the_last, no_such_session, submitted});
  ASSERT_EQ(outcomes.size(), 4u);
  EXPECT_EQ(outcomes[0].state, proto::CancelState::kCancelled);
  EXPECT_EQ(outcomes[1].state, proto::CancelState::kUnknown);
  EXPECT_EQ(outcomes[2].state, proto::CancelState::kUnknown);
  EXPECT_EQ(outcomes[3].state, proto::CancelState::kCancelled);

  // The cancelled one's result is stored for `uni result`; no unknown one's.
  std::optional<proto::Result> stored = detached_result(config_for(nats), sent[1].id, 10s);
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->status, Status::kCancelled);
  EXPECT_FALSE(detached_result(config_for(nats), past_the_last, 0ms));
}

}  // namespace
}  // namespace uni::nats
