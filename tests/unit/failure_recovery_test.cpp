// Proves the manager core's failure paths without a socket (docs/reliability.md 4.3-4.5, 4.8,
// 4.10, 4.13): a lost worker's tasks are requeued with an attempt charged and fail as poison
// after max_attempts; handed-back tasks cost no attempt; late results from a worker presumed
// dead are dropped; a task being stopped whose worker is lost stays cancelled; a boss that
// leaves or stays away past its grace loses its tasks but not its detached services; a boss
// back from silence gets the results it missed; after a manager restart, resubmitted tasks wait
// for the recovery window and re-announced ones are adopted, filled in, or stopped.
#include <gtest/gtest.h>

#include "manager_core_harness.hpp"

namespace uni::manager::testing {
namespace {

constexpr std::uint64_t kSession = 0xB1;
const PeerId kBoss = "boss";

proto::RunningTask announced(const TaskId& id, std::uint8_t flags = 0, std::uint8_t attempt = 1) {
  proto::RunningTask rt;
  rt.id = id;
  rt.module = module_hash();
  rt.function = "factorial";
  rt.flags = flags;
  rt.attempt = attempt;
  rt.args_digest = proto::digest_args(task(id.session, id.seq).args);  // it was sent them
  return rt;
}

proto::Task resubmitted(std::uint64_t seq, std::uint8_t flags = 0, std::uint8_t max_attempts = 3) {
  return task(kSession, seq, flags | proto::kFlagResubmitted, max_attempts);
}

class FailureRecovery : public ::testing::Test {
 protected:
  CoreHarness h;

  void SetUp() override {
    h.boss_hello(kBoss, kSession);
    h.submit(kBoss, {task(kSession, 1000)});  // stores the module
    h.put_module(kBoss);
    h.cancel(kBoss, {{kSession, 1000}});
    h.ack(kBoss, {{kSession, 1000}});
    h.forget_sent();
  }

  // Everyone but `silent` speaks, then time passes beyond the heartbeat timeout.
  void silence(const std::vector<PeerId>& speaking) {
    h.advance(h.config().heartbeat_timeout / 2);
    for (const PeerId& p : speaking)
      if (p == kBoss) h.boss_heartbeat(p);
      else h.heartbeat(p, 0);
    h.advance(h.config().heartbeat_timeout / 2 + 100ms);
    for (const PeerId& p : speaking)
      if (p == kBoss) h.boss_heartbeat(p);
      else h.heartbeat(p, 0);
    h.tick();
  }
};

TEST_F(FailureRecovery, ALostWorkersTasksAreRequeuedWithAnAttemptCharged) {
  h.worker_hello("wa", 2);
  h.submit(kBoss, {task(kSession, 1), task(kSession, 2)});
  EXPECT_EQ(h.tasks_to("wa").size(), 2u);
  h.worker_hello("wb", 2);
  silence({kBoss, "wb"});  // wa says nothing
  EXPECT_EQ(h.status().workers.size(), 1u);
  std::vector<proto::Task> rerun = h.tasks_to("wb");
  ASSERT_EQ(rerun.size(), 2u);
  for (const proto::Task& t : rerun) EXPECT_EQ(t.attempt, 2);
  EXPECT_EQ(h.status().totals.requeued, 2u);
  EXPECT_TRUE(h.results_to(kBoss).empty());
}

TEST_F(FailureRecovery, APoisonTaskFailsAfterMaxAttemptsWithEveryAttemptNamed) {
  h.worker_hello("wa", 1);
  h.submit(kBoss, {task(kSession, 1)});
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(h.tasks_to("wa").size(), 1u) << "attempt " << i + 1;
    h.results("wa", {result({kSession, 1}, Status::kCrashed, "executor killed by SIGSEGV")});
  }
  std::vector<proto::Result> r = h.results_to(kBoss);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].status, Status::kCrashed);
  EXPECT_EQ(r[0].attempt, 3);
  EXPECT_EQ(r[0].payload,
            "failed 3 attempts: attempt 1: executor killed by SIGSEGV on worker w-wa (host-wa); "
            "attempt 2: executor killed by SIGSEGV on worker w-wa (host-wa); attempt 3: executor "
            "killed by SIGSEGV on worker w-wa (host-wa)");
  EXPECT_EQ(h.status().totals.requeued, 2u);
  EXPECT_TRUE(h.tasks_to("wa").empty());
}

TEST_F(FailureRecovery, MaxAttemptsOneFailsOnTheFirstLossWithTheCauseAlone) {
  h.worker_hello("wa", 1);
  h.submit(kBoss, {task(kSession, 1, 0, 1)});
  EXPECT_EQ(h.tasks_to("wa").size(), 1u);
  h.bye("wa");
  std::vector<proto::Result> r = h.results_to(kBoss);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].status, Status::kCrashed);
  EXPECT_EQ(r[0].payload, "worker w-wa (host-wa) lost while running factorial: it left (leaving)");
}

TEST_F(FailureRecovery, AHandedBackTaskGoesToTheFrontWithoutAnAttempt) {
  h.worker_hello("wa", 1);
  h.submit(kBoss, {task(kSession, 1), task(kSession, 2)});
  EXPECT_EQ(h.tasks_to("wa").size(), 1u);
  h.results("wa", {result({kSession, 1}, Status::kHandedBack, "")});
  std::vector<proto::Task> next = h.tasks_to("wa");
  ASSERT_EQ(next.size(), 1u);
  EXPECT_EQ(next[0].id, (TaskId{kSession, 1}));  // ahead of 2
  EXPECT_EQ(next[0].attempt, 1);
  EXPECT_EQ(h.status().totals.requeued, 0u);
  EXPECT_TRUE(h.results_to(kBoss).empty());
}

TEST_F(FailureRecovery, ALateResultFromAWorkerPresumedDeadIsAcknowledgedAndDropped) {
  h.worker_hello("wa", 1);
  h.submit(kBoss, {task(kSession, 1)});
  EXPECT_EQ(h.tasks_to("wa").size(), 1u);
  h.worker_hello("wb", 1);
  silence({kBoss, "wb"});
  EXPECT_EQ(h.tasks_to("wb").size(), 1u);  // rerun there
  // wa was only frozen: it comes back, re-announces the task, and is told to stop it.
  EXPECT_EQ(h.core().role_of("wa"), ManagerCore::Role::kUnknown);
  h.worker_hello("wa", 1, {announced({kSession, 1})});
  EXPECT_EQ(h.ids_to("wa", Type::kCancel), (std::vector<TaskId>{{kSession, 1}}));
  h.results("wa", {result({kSession, 1}, Status::kOk, "late")});
  EXPECT_EQ(h.ids_to("wa", Type::kAck).size(), 1u);
  EXPECT_TRUE(h.results_to(kBoss).empty());
  h.results("wb", {result({kSession, 1}, Status::kOk, "on time")});
  std::vector<proto::Result> r = h.results_to(kBoss);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].payload, "on time");
  EXPECT_EQ(r[0].attempt, 2);
}

TEST_F(FailureRecovery, AReconnectingWorkerKeepsWhatItHoldsAndWhatNeverArrivedIsRequeued) {
  h.worker_hello("wa", 2);
  h.submit(kBoss, {task(kSession, 1), task(kSession, 2)});
  EXPECT_EQ(h.tasks_to("wa").size(), 2u);
  // Its connection dropped: it holds 1 only (2 was lost on the way).
  h.worker_hello("wa", 2, {announced({kSession, 1})});
  std::vector<proto::Task> again = h.tasks_to("wa");
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].id, (TaskId{kSession, 2}));
  EXPECT_EQ(again[0].attempt, 1);
  EXPECT_EQ(h.record({kSession, 1})->state, TaskState::kRunning);
  EXPECT_EQ(h.status().workers.size(), 1u);
}

TEST_F(FailureRecovery, AWorkerLostAndBackTakesBackWhatStillWaitsForAWorker) {
  h.worker_hello("wa", 1);
  h.submit(kBoss, {task(kSession, 1)});
  EXPECT_EQ(h.tasks_to("wa").size(), 1u);
  h.advance(h.config().heartbeat_timeout + 1s);
  h.tick();  // lost: requeued, no other worker takes it
  EXPECT_EQ(h.record({kSession, 1})->state, TaskState::kQueued);
  h.worker_hello("wa2", 1, {announced({kSession, 1})}, 1, "w-wa");  // back, as itself
  EXPECT_TRUE(h.tasks_to("wa2").empty());                           // it has it already
  EXPECT_TRUE(h.ids_to("wa2", Type::kCancel).empty());
  EXPECT_EQ(h.record({kSession, 1})->state, TaskState::kRunning);
  h.results("wa2", {result({kSession, 1})});
  h.boss_heartbeat(kBoss);  // silent as long as the worker: marked away meanwhile
  EXPECT_EQ(h.results_to(kBoss).size(), 1u);
}

TEST_F(FailureRecovery, AReannouncedTaskTheManagerNeverGaveThatWorkerIsStoppedThere) {
  h.submit(kBoss, {task(kSession, 1)});  // no worker: queued
  // A worker (a hostile one, or one confused) says it runs the queued task,
  // with its arguments right even: it was never given it.
  h.worker_hello("wa", 1, {announced({kSession, 1})});
  EXPECT_EQ(h.ids_to("wa", Type::kCancel), (std::vector<TaskId>{{kSession, 1}}));
  // The manager gives it the task the ordinary way instead, and believes the
  // result of that run only.
  std::vector<proto::Task> sent = h.tasks_to("wa");
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].id, (TaskId{kSession, 1}));
}

TEST_F(FailureRecovery, AnotherWorkerLostAndBackIsNotTheOneItsTasksWereTakenFrom) {
  h.worker_hello("wa", 1);
  h.submit(kBoss, {task(kSession, 1)});
  EXPECT_EQ(h.tasks_to("wa").size(), 1u);
  h.advance(h.config().heartbeat_timeout + 1s);
  h.tick();
  // Its id, but not its secret: not the worker the task was taken from.
  h.worker_hello("wx", 1, {announced({kSession, 1})}, 1, "w-wa", "guess");
  EXPECT_EQ(h.ids_to("wx", Type::kCancel), (std::vector<TaskId>{{kSession, 1}}));
}

TEST_F(FailureRecovery, ASecondConnectionClaimingALiveWorkerIsRefusedAndTheWorkerKeepsItsTasks) {
  h.worker_hello("wa", 1);
  h.submit(kBoss, {task(kSession, 1)});
  EXPECT_EQ(h.tasks_to("wa").size(), 1u);
  h.worker_hello("wx", 1, {announced({kSession, 1})}, 1, "w-wa", "guess");
  std::vector<proto::ErrorMessage> errors = h.errors_to("wx");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].code, "refused");
  EXPECT_NE(errors[0].text.find("worker w-wa is connected already"), std::string::npos)
      << errors[0].text;
  EXPECT_EQ(h.status().workers.size(), 1u);
  EXPECT_EQ(h.record({kSession, 1})->worker->peer, "wa");
  // The same worker on a new connection (its secret) takes its record along.
  h.worker_hello("wa-again", 1, {announced({kSession, 1})}, 1, "w-wa", "s");
  EXPECT_TRUE(h.errors_to("wa-again").empty());
  EXPECT_EQ(h.record({kSession, 1})->worker->peer, "wa-again");
  EXPECT_EQ(h.status().workers.size(), 1u);
  h.results("wa-again", {result({kSession, 1})});
  EXPECT_EQ(h.results_to(kBoss).size(), 1u);
}

TEST_F(FailureRecovery, AStoppingTaskWhoseWorkerIsLostEndsCancelledNotRequeued) {
  h.worker_hello("wa", 1);
  h.submit(kBoss, {task(kSession, 1)});
  h.cancel(kBoss, {{kSession, 1}});
  h.worker_hello("wb", 1);
  silence({kBoss, "wb"});
  std::vector<proto::Result> r = h.results_to(kBoss);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].status, Status::kCancelled);
  EXPECT_EQ(r[0].payload, "cancelled while running (its worker stopped it or was lost)");
  EXPECT_TRUE(h.tasks_to("wb").empty());
}

TEST_F(FailureRecovery, AStoppingTaskIsCancelledAgainWhenItsWorkerReconnects) {
  h.worker_hello("wa", 1);
  h.submit(kBoss, {task(kSession, 1)});
  h.cancel(kBoss, {{kSession, 1}});
  EXPECT_EQ(h.ids_to("wa", Type::kCancel).size(), 1u);
  h.worker_hello("wa", 1, {announced({kSession, 1})});  // the CANCEL may have been lost
  EXPECT_EQ(h.ids_to("wa", Type::kCancel), (std::vector<TaskId>{{kSession, 1}}));
}

TEST_F(FailureRecovery, ABossThatSaysByeLosesItsTasksItsRunningOnesAreStopped) {
  h.worker_hello("wa", 1);
  const std::uint8_t spawn = proto::kFlagService | proto::kFlagDetached;
  h.worker_hello("ws", 1);
  h.submit(kBoss, {task(kSession, 1, spawn), task(kSession, 2), task(kSession, 3)});
  PeerId running2 = h.record({kSession, 2})->worker->peer;
  h.forget_sent();
  h.bye(kBoss);
  EXPECT_EQ(h.ids_to(running2, Type::kCancel), (std::vector<TaskId>{{kSession, 2}}));
  EXPECT_EQ(h.record({kSession, 2}), nullptr);
  EXPECT_EQ(h.record({kSession, 3}), nullptr);
  ASSERT_NE(h.record({kSession, 1}), nullptr);  // the detached service outlives it
  EXPECT_EQ(h.status().bosses, 0u);
  EXPECT_EQ(h.core().role_of(kBoss), ManagerCore::Role::kUnknown);
  // When the service ends, its result goes nowhere and nothing of the boss is left.
  PeerId service_worker = h.record({kSession, 1})->worker->peer;
  h.results(service_worker, {result({kSession, 1}, Status::kException, "boom")});
  EXPECT_EQ(h.record({kSession, 1}), nullptr);
  EXPECT_EQ(h.core().tasks().size(), 0u);
}

TEST_F(FailureRecovery, ABossAwayPastItsGraceLosesItsTasksButItsDetachedServicesRun) {
  ManagerConfig config;
  config.boss_grace = std::chrono::seconds(10);
  CoreHarness g(config);
  g.boss_hello(kBoss, kSession);
  g.submit(kBoss, {task(kSession, 1, proto::kFlagService | proto::kFlagDetached), task(kSession, 2),
                   task(kSession, 3)});
  g.put_module(kBoss);
  g.worker_hello("wa", 2, {}, 2);
  EXPECT_EQ(g.tasks_to("wa").size(), 2u);
  g.results("wa", {result({kSession, 2})});
  g.forget_sent();
  // The boss is silent: disconnected after the heartbeat timeout, its tasks kept.
  for (int i = 0; i < 8; ++i) {
    g.advance(1s);
    g.heartbeat("wa", 1);
    g.tick();
  }
  EXPECT_EQ(g.status().bosses, 0u);
  EXPECT_NE(g.record({kSession, 2}), nullptr);
  EXPECT_NE(g.record({kSession, 3}), nullptr);
  for (int i = 0; i < 3; ++i) {
    g.advance(1s);
    g.heartbeat("wa", 1);
    g.tick();
  }
  EXPECT_EQ(g.record({kSession, 2}), nullptr);  // its result, dropped
  EXPECT_EQ(g.record({kSession, 3}), nullptr);  // queued, dropped
  ASSERT_NE(g.record({kSession, 1}), nullptr);  // the service runs on
  EXPECT_EQ(g.record({kSession, 1})->state, TaskState::kRunning);
  EXPECT_TRUE(g.results_to(kBoss).empty());
  EXPECT_EQ(g.status().services.size(), 1u);
}

TEST_F(FailureRecovery, ABossBackFromSilenceGetsTheResultsItMissed) {
  h.worker_hello("wa", 2);
  h.submit(kBoss, {task(kSession, 1), task(kSession, 2)});
  h.advance(h.config().heartbeat_timeout + 100ms);
  h.heartbeat("wa", 2);
  h.tick();  // the boss counts as disconnected now
  EXPECT_EQ(h.status().bosses, 0u);
  h.results("wa", {result({kSession, 1}), result({kSession, 2})});
  EXPECT_TRUE(h.results_to(kBoss).empty());
  // Heard from again: everything finished and unacknowledged goes out.
  h.boss_heartbeat(kBoss);
  std::vector<proto::Result> r = h.results_to(kBoss);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].id, (TaskId{kSession, 1}));
  EXPECT_EQ(r[1].id, (TaskId{kSession, 2}));
  // A HELLO (a new connection) gets them again, until acknowledged.
  h.boss_hello(kBoss, kSession);
  EXPECT_EQ(h.results_to(kBoss).size(), 2u);
  h.ack(kBoss, {{kSession, 1}});
  h.boss_hello(kBoss, kSession);
  r = h.results_to(kBoss);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].id, (TaskId{kSession, 2}));
}

TEST_F(FailureRecovery, AnUndeliveredResultMarksTheBossAwayUntilHeardFrom) {
  h.worker_hello("wa", 1);
  h.submit(kBoss, {task(kSession, 1)});
  h.unreachable.insert(kBoss);
  h.results("wa", {result({kSession, 1})});
  EXPECT_EQ(h.status().bosses, 0u);
  h.unreachable.clear();
  h.boss_heartbeat(kBoss);
  EXPECT_EQ(h.results_to(kBoss).size(), 1u);
}

// ---- manager restart -----------------------------------------------------------------------

class ManagerRestart : public FailureRecovery {
 protected:
  // A new manager (the test's core) on the same address; the boss says HELLO.
  void restart() {
    h.start();
    h.boss_hello(kBoss, kSession);
  }
};

TEST_F(ManagerRestart, AResubmittedTaskWaitsForTheRecoveryWindowAFreshOneDoesNot) {
  restart();
  h.worker_hello("wa", 2);
  h.submit(kBoss, {resubmitted(1), task(kSession, 2)});
  h.put_module(kBoss);  // the new manager asked for it
  std::vector<proto::Task> now = h.tasks_to("wa");
  ASSERT_EQ(now.size(), 1u);
  EXPECT_EQ(now[0].id, (TaskId{kSession, 2}));
  EXPECT_EQ(h.record({kSession, 1})->state, TaskState::kRecovering);
  h.advance(h.config().recovery_window / 2);
  h.heartbeat("wa", 0);
  h.tick();
  EXPECT_TRUE(h.tasks_to("wa").empty());
  h.advance(h.config().recovery_window / 2 + 100ms);
  h.heartbeat("wa", 0);
  h.tick();
  now = h.tasks_to("wa");
  ASSERT_EQ(now.size(), 1u);
  EXPECT_EQ(now[0].id, (TaskId{kSession, 1}));
}

TEST_F(ManagerRestart, AReannouncedTaskIsAdoptedAndTheResubmissionFillsItIn) {
  restart();
  h.worker_hello("wa", 1, {announced({kSession, 1}, 0, 2)});
  const TaskRecord* t = h.record({kSession, 1});
  ASSERT_NE(t, nullptr);
  EXPECT_TRUE(t->placeholder);
  EXPECT_EQ(t->state, TaskState::kRunning);
  EXPECT_EQ(h.status().assigned, 1u);
  h.submit(kBoss, {resubmitted(1)});
  t = h.record({kSession, 1});
  EXPECT_FALSE(t->placeholder);
  EXPECT_EQ(t->task.args, std::string("\x91\x05", 2));
  EXPECT_EQ(t->task.attempt, 2);          // the worker's count
  EXPECT_TRUE(h.tasks_to("wa").empty());  // not run a second time
  h.results("wa", {result({kSession, 1})});
  std::vector<proto::Result> r = h.results_to(kBoss);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].attempt, 2);
}

TEST_F(ManagerRestart, AReannouncedCopyOfARunningTaskIsStopped) {
  restart();
  h.worker_hello("wa", 1, {announced({kSession, 1})});
  h.worker_hello("wb", 1, {announced({kSession, 1})});  // a late copy
  EXPECT_EQ(h.ids_to("wb", Type::kCancel), (std::vector<TaskId>{{kSession, 1}}));
  EXPECT_TRUE(h.ids_to("wa", Type::kCancel).empty());
  EXPECT_EQ(h.record({kSession, 1})->worker->peer, "wa");
}

TEST_F(ManagerRestart, APlaceholderWhoseWorkerDiesWaitsForItsBossThenRunsAgain) {
  restart();
  h.worker_hello("wa", 1, {announced({kSession, 1})});
  h.worker_hello("wb", 1);
  h.bye("wa");
  // Its args are unknown: it cannot run until the boss resubmits it.
  EXPECT_EQ(h.record({kSession, 1})->state, TaskState::kAwaitingBoss);
  EXPECT_TRUE(h.tasks_to("wb").empty());
  h.advance(h.config().recovery_window + 1s);  // past the window: not held again
  h.heartbeat("wb", 0);
  h.submit(kBoss, {resubmitted(1)});
  std::vector<proto::Task> rerun = h.tasks_to("wb");
  ASSERT_EQ(rerun.size(), 1u);
  EXPECT_EQ(rerun[0].attempt, 2);
  EXPECT_EQ(rerun[0].args, std::string("\x91\x05", 2));
}

TEST_F(ManagerRestart, APlaceholderOfATaskThatMustNotRunTwiceFailsWhenItsWorkerDies) {
  restart();
  h.worker_hello("wa", 1, {announced({kSession, 1})});
  h.bye("wa");
  h.submit(kBoss, {resubmitted(1, 0, 1)});  // max_attempts 1
  std::vector<proto::Result> r = h.results_to(kBoss);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].status, Status::kCrashed);
  EXPECT_EQ(r[0].payload, "worker w-wa (host-wa) lost while running factorial: it left (leaving)");
}

TEST_F(ManagerRestart, AReannouncedDetachedServiceThatLosesItsWorkerCannotBeRestarted) {
  restart();
  h.worker_hello("wa", 1, {announced({kSession, 1}, proto::kFlagService | proto::kFlagDetached)});
  EXPECT_EQ(h.status().services.size(), 1u);
  h.bye("wa");
  // Nobody will resubmit it: it fails, and its boss (connected here) is told.
  std::vector<proto::Result> r = h.results_to(kBoss);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].status, Status::kCrashed);
  EXPECT_EQ(r[0].payload,
            "service factorial lost its worker, and its arguments were lost with a manager "
            "restart: it cannot be restarted; spawn it again");
  EXPECT_TRUE(h.status().services.empty());
}

}  // namespace
}  // namespace uni::manager::testing
