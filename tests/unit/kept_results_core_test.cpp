// Proves the manager core's kept results without a socket (docs/protocol.md
// 7.23, 7.24; docs/reliability.md §4.19): a task submitted with keep-result
// and detached outlives its boss's BYE and grace period, and its final result
// — ok or not, with worker, host and attempt — is read by id by another boss,
// more than once; a reader is told "pending" while the task is held, and a
// reader that waits is answered when the task ends, or "pending" at its
// deadline; a worker lost mid-task reruns it and its result is still kept; a
// cancelled task's result is kept; unknown ids are told apart (never seen,
// not kept, expired, evicted, and nothing after a restart); keep-result
// without detached is refused; tasks without the flag keep nothing.
#include <gtest/gtest.h>

#include "manager_core_harness.hpp"
#include "proto/kept_result.hpp"

namespace uni::manager::testing {
namespace {

constexpr std::uint64_t kSubmitter = 0x5AB;
constexpr std::uint64_t kReader = 0x8EAD;
const PeerId kBoss = "submitter";
const PeerId kOther = "reader";
constexpr std::uint8_t kKept = proto::kFlagDetached | proto::kFlagKeepResult;

class KeptResultsCore : public ::testing::Test {
 protected:
  explicit KeptResultsCore(ManagerConfig config = {}) : h(std::move(config)) {}

  void SetUp() override {
    h.boss_hello(kBoss, kSubmitter);
    h.boss_hello(kOther, kReader);
  }

  // The submitter hands a task over (uploading the module) and leaves.
  TaskId submit_and_leave(std::uint64_t seq = 1) {
    h.submit(kBoss, {task(kSubmitter, seq, kKept)});
    if (!h.core().tasks().find({kSubmitter, seq}) ||
        h.record({kSubmitter, seq})->state == TaskState::kWaitingModule)
      h.put_module(kBoss);
    h.bye(kBoss);
    return {kSubmitter, seq};
  }

  // A reader connects (again: time passes in these tests) and asks.
  void ask(const TaskId& id, std::uint32_t wait_ms = 0, std::uint64_t request = 1) {
    h.boss_hello(kOther, kReader);
    proto::ResultQuery q{request, id, wait_ms};
    h.say(kOther,
          [&](ManagerCore& core, Outbox& out) { core.on_fetch_result(kOther, q, h.now, out); });
  }
  std::vector<proto::KeptResultReply> answers() {
    std::vector<proto::KeptResultReply> out;
    for (const std::string& m : h.messages_to(kOther, Type::kKeptResult))
      out.push_back(proto::read_kept_result(proto::Message::parse(m.data(), m.size())));
    return out;
  }
  proto::KeptResultReply answer(const TaskId& id, std::uint32_t wait_ms = 0) {
    ask(id, wait_ms);
    std::vector<proto::KeptResultReply> a = answers();
    EXPECT_EQ(a.size(), 1u);
    return a.empty() ? proto::KeptResultReply{} : a[0];
  }

  CoreHarness h;
};

TEST_F(KeptResultsCore, AResultOutlivesItsBossAndIsReadByAnotherMoreThanOnce) {
  h.worker_hello("w", 1);
  const TaskId id = submit_and_leave();
  // Past the boss's grace period (its worker alive): the task is still there.
  for (auto passed = 0s; passed <= h.config().boss_grace; passed += 1s) {
    h.advance(1s);
    h.heartbeat("w", 1);
    h.tick();
  }
  ASSERT_EQ(h.tasks_to("w").size(), 1u);
  EXPECT_EQ(answer(id).state, proto::KeptState::kPending);
  h.results("w", {result(id, Status::kException, "boom")});
  for (int i = 0; i < 2; ++i) {
    proto::KeptResultReply r = answer(id);
    ASSERT_EQ(r.state, proto::KeptState::kDone);
    EXPECT_EQ(r.result->status, Status::kException);
    EXPECT_EQ(r.result->payload, "boom");
    EXPECT_EQ(r.result->worker, "w-w");
    EXPECT_EQ(r.result->host, "host-w");
    EXPECT_EQ(r.result->attempt, 1);
  }
  EXPECT_EQ(h.status().totals.kept_results, 1u);
  EXPECT_EQ(h.record(id), nullptr);  // the task itself is gone; its result stays
}

TEST_F(KeptResultsCore, PendingTellsWhereTheTaskIs) {
  const TaskId id = submit_and_leave();
  proto::KeptResultReply r = answer(id);
  EXPECT_EQ(r.state, proto::KeptState::kPending);
  EXPECT_EQ(r.detail, "queued");
  h.worker_hello("w", 1);
  EXPECT_EQ(answer(id).detail, "running");
}

TEST_F(KeptResultsCore, AReaderThatWaitsIsAnsweredWhenTheTaskEnds) {
  h.worker_hello("w", 1);
  const TaskId id = submit_and_leave();
  ask(id, 60000, 42);
  EXPECT_TRUE(answers().empty());  // held
  h.advance(2s);
  h.heartbeat("w", 1);
  h.tick();
  EXPECT_TRUE(answers().empty());
  h.results("w", {result(id)});
  std::vector<proto::KeptResultReply> a = answers();
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].request, 42u);
  EXPECT_EQ(a[0].state, proto::KeptState::kDone);
  EXPECT_EQ(a[0].result->payload, std::string("\x78", 1));
}

TEST_F(KeptResultsCore, AReaderWhoseWaitEndsFirstIsToldPending) {
  const TaskId id = submit_and_leave();  // no worker: it stays queued
  ask(id, 2000, 7);
  h.advance(1900ms);
  h.tick();
  EXPECT_TRUE(answers().empty());
  h.advance(200ms);
  h.tick();
  std::vector<proto::KeptResultReply> a = answers();
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].request, 7u);
  EXPECT_EQ(a[0].state, proto::KeptState::kPending);
}

TEST_F(KeptResultsCore, AWorkerLostMidTaskRerunsItAndItsResultIsStillKept) {
  h.worker_hello("w1", 1);
  const TaskId id = submit_and_leave();
  ASSERT_EQ(h.tasks_to("w1").size(), 1u);
  h.bye("w1");  // lost while running it
  h.worker_hello("w2", 1);
  std::vector<proto::Task> again = h.tasks_to("w2");
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].attempt, 2);
  h.results("w2", {result(id)});
  proto::KeptResultReply r = answer(id);
  ASSERT_EQ(r.state, proto::KeptState::kDone);
  EXPECT_EQ(r.result->worker, "w-w2");
  EXPECT_EQ(r.result->attempt, 2);
}

TEST_F(KeptResultsCore, ACancelledTaskHasItsCancelledResultKept) {
  const TaskId id = submit_and_leave();
  h.cancel(kOther, {id});
  proto::KeptResultReply r = answer(id);
  ASSERT_EQ(r.state, proto::KeptState::kDone);
  EXPECT_EQ(r.result->status, Status::kCancelled);
}

TEST_F(KeptResultsCore, UnknownIdsAreToldApart) {
  EXPECT_EQ(answer({0x1234, 1}).detail, proto::kUnknownNeverSeen);
  // A task its boss waits for, not kept.
  h.submit(kBoss, {task(kSubmitter, 5)});
  proto::KeptResultReply r = answer({kSubmitter, 5});
  EXPECT_EQ(r.state, proto::KeptState::kUnknown);
  EXPECT_EQ(r.detail, proto::kUnknownNotKept);
  EXPECT_EQ(r.keep_ms, 24u * 3600 * 1000);
}

TEST_F(KeptResultsCore, AResultExpiresAfterTheKeepTime) {
  h.worker_hello("w", 1);
  const TaskId id = submit_and_leave();
  h.results("w", {result(id)});
  h.advance(24h - 1s);
  h.tick();
  EXPECT_EQ(answer(id).state, proto::KeptState::kDone);
  h.advance(2s);
  h.tick();
  proto::KeptResultReply r = answer(id);
  EXPECT_EQ(r.state, proto::KeptState::kUnknown);
  EXPECT_EQ(r.detail, proto::kUnknownExpired);
  EXPECT_EQ(h.status().totals.kept_results, 0u);
}

TEST_F(KeptResultsCore, AfterARestartTheManagerKnowsNothingAndSaysSinceWhen) {
  h.worker_hello("w", 1);
  const TaskId id = submit_and_leave();
  h.results("w", {result(id)});
  h.advance(1h);
  h.start();  // a new manager run
  h.boss_hello(kOther, kReader);
  h.advance(5s);
  proto::KeptResultReply r = answer(id);
  EXPECT_EQ(r.state, proto::KeptState::kUnknown);
  EXPECT_EQ(r.detail, proto::kUnknownNeverSeen);
  EXPECT_EQ(r.uptime_ms, 5000u);
}

TEST_F(KeptResultsCore, KeepResultWithoutDetachedIsRefused) {
  h.submit(kBoss, {task(kSubmitter, 1, proto::kFlagKeepResult)});
  std::vector<proto::Result> rs = h.results_to(kBoss);
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].status, Status::kRejected);
  EXPECT_NE(rs[0].payload.find("needs flag detached"), std::string::npos) << rs[0].payload;
  EXPECT_EQ(h.record({kSubmitter, 1}), nullptr);
}

TEST_F(KeptResultsCore, TasksWithoutTheFlagKeepNothing) {
  h.worker_hello("w", 1);
  h.submit(kBoss, {task(kSubmitter, 1)});
  h.put_module(kBoss);
  h.results("w", {result({kSubmitter, 1})});
  EXPECT_EQ(h.results_to(kBoss).size(), 1u);
  EXPECT_EQ(h.core().kept_results().count(), 0u);
}

TEST_F(KeptResultsCore, AResubmissionOfAnAcknowledgedTaskIsAnsweredFromTheKeptResult) {
  h.worker_hello("w", 1);
  h.submit(kBoss, {task(kSubmitter, 1, kKept)});
  h.put_module(kBoss);
  ASSERT_EQ(h.tasks_to("w").size(), 1u);
  h.results("w", {result({kSubmitter, 1})});
  ASSERT_EQ(h.results_to(kBoss).size(), 1u);
  h.ack(kBoss, {{kSubmitter, 1}});
  h.submit(kBoss, {task(kSubmitter, 1, kKept | proto::kFlagResubmitted)});
  EXPECT_EQ(h.results_to(kBoss).size(), 1u);
  EXPECT_TRUE(h.tasks_to("w").empty());  // not run again
}

class KeptResultsBounded : public KeptResultsCore {
 protected:
  static ManagerConfig bounded() {
    ManagerConfig c;
    c.max_kept_results = 2;
    return c;
  }
  KeptResultsBounded() : KeptResultsCore(bounded()) {}
};

TEST_F(KeptResultsBounded, PastTheBoundTheOldestResultIsEvicted) {
  h.worker_hello("w", 3);
  h.submit(kBoss,
           {task(kSubmitter, 1, kKept), task(kSubmitter, 2, kKept), task(kSubmitter, 3, kKept)});
  h.put_module(kBoss);
  for (std::uint64_t seq = 1; seq <= 3; ++seq) h.results("w", {result({kSubmitter, seq})});
  proto::KeptResultReply first = answer({kSubmitter, 1});
  EXPECT_EQ(first.state, proto::KeptState::kUnknown);
  EXPECT_EQ(first.detail, proto::kUnknownEvicted);
  EXPECT_EQ(answer({kSubmitter, 3}).state, proto::KeptState::kDone);
  EXPECT_EQ(h.status().totals.kept_results, 2u);
}

}  // namespace
}  // namespace uni::manager::testing
