// Proves the manager core's task life cycle without a socket (docs/architecture.md §2,
// docs/reliability.md 4.7, 4.8, 4.11): submit -> NEED_MODULE -> PUT_MODULE -> queued ->
// dispatched within credit -> RESULT to the boss -> ACK; queue full; refused records answered
// by id; wait limits and the "no worker" notice; cancel in each state; duplicates; services
// and SERVICE_STARTED; STATUS from counters.
#include <gtest/gtest.h>

#include <algorithm>

#include "manager_core_harness.hpp"

namespace uni::manager::testing {
namespace {

constexpr std::uint64_t kSession = 0xB1;
const PeerId kBoss = "boss";

class TaskLifecycle : public ::testing::Test {
 protected:
  CoreHarness h;

  void SetUp() override { h.boss_hello(kBoss, kSession); }

  // The module stored, so that tasks are queued at once.
  void store_module() {
    h.submit(kBoss, {task(kSession, 1000)});
    h.put_module(kBoss);
    h.cancel(kBoss, {{kSession, 1000}});
    h.results_to(kBoss);
    h.ack(kBoss, {{kSession, 1000}});
    h.forget_sent();
  }
};

TEST_F(TaskLifecycle, ASubmittedTaskFetchesItsModuleRunsWithinCreditAndIsForgottenOnAck) {
  h.worker_hello("wa", 2);
  h.submit(kBoss, {task(kSession, 1), task(kSession, 2), task(kSession, 3)});
  // The manager lacks the module: it asks once, and the tasks wait.
  EXPECT_EQ(h.count_to(kBoss, Type::kNeedModule), 1u);
  EXPECT_EQ(h.status().waiting_for_module, 3u);
  EXPECT_TRUE(h.tasks_to("wa").empty());

  h.put_module(kBoss);
  // Dispatched within the worker's credit of 2; the third stays queued.
  std::vector<proto::Task> sent = h.tasks_to("wa");
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[0].id, (TaskId{kSession, 1}));
  EXPECT_EQ(sent[1].id, (TaskId{kSession, 2}));
  EXPECT_EQ(sent[0].attempt, 1);
  EXPECT_EQ(sent[0].args, std::string("\x91\x05", 2));
  proto::StatusReport s = h.status();
  EXPECT_EQ(s.queue, 1u);
  EXPECT_EQ(s.assigned, 2u);
  EXPECT_EQ(s.waiting_for_module, 0u);
  EXPECT_EQ(s.totals.module_uploads, 1u);

  // A result frees credit: the worker is acknowledged and gets the third.
  h.results("wa", {result({kSession, 1})});
  EXPECT_EQ(h.ids_to("wa", Type::kAck), (std::vector<TaskId>{{kSession, 1}}));
  std::vector<proto::Result> got = h.results_to(kBoss);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].id, (TaskId{kSession, 1}));
  EXPECT_EQ(got[0].status, Status::kOk);
  EXPECT_EQ(got[0].worker, "w-wa");
  EXPECT_EQ(got[0].host, "host-wa");
  EXPECT_EQ(got[0].pid, 4242u);
  EXPECT_EQ(h.tasks_to("wa").size(), 1u);

  // Kept until the boss acknowledges it.
  ASSERT_NE(h.record({kSession, 1}), nullptr);
  EXPECT_EQ(h.record({kSession, 1})->state, TaskState::kDone);
  h.ack(kBoss, {{kSession, 1}});
  EXPECT_EQ(h.record({kSession, 1}), nullptr);
  EXPECT_EQ(h.core().tasks().size(), 2u);
  EXPECT_EQ(h.status().totals.submitted, 3u);
  EXPECT_EQ(h.status().totals.completed, 1u);
}

TEST_F(TaskLifecycle, ABurstSpreadsOverTheWorkersAndNoWorkerGetsMoreThanItsCredit) {
  store_module();
  h.worker_hello("wa", 3);
  h.worker_hello("wb", 3);
  std::vector<proto::Task> burst;
  for (std::uint64_t i = 1; i <= 10; ++i) burst.push_back(task(kSession, i));
  h.submit(kBoss, burst);
  EXPECT_EQ(h.tasks_to("wa").size(), 3u);
  EXPECT_EQ(h.tasks_to("wb").size(), 3u);
  EXPECT_EQ(h.status().queue, 4u);
  // Credit 0 (a draining worker): nothing new for it, even as it finishes.
  h.credit("wa", 0);
  h.results("wa", {result({kSession, 1})});
  EXPECT_TRUE(h.tasks_to("wa").empty());
  h.credit("wb", 5);
  EXPECT_EQ(h.tasks_to("wb").size(), 2u);
}

TEST_F(TaskLifecycle, AFullManagerAnswersQueueFullAndKeepsNoRecord) {
  ManagerConfig config;
  config.max_tasks = 2;
  CoreHarness small(config);
  small.boss_hello(kBoss, kSession);
  small.submit(kBoss, {task(kSession, 1), task(kSession, 2), task(kSession, 3)});
  std::vector<proto::Result> answers = small.results_to(kBoss);
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_EQ(answers[0].id, (TaskId{kSession, 3}));
  EXPECT_EQ(answers[0].status, Status::kQueueFull);
  EXPECT_EQ(answers[0].payload, "the manager holds 2 tasks, its limit");
  EXPECT_EQ(small.core().tasks().size(), 2u);
  EXPECT_EQ(small.record({kSession, 3}), nullptr);
  EXPECT_EQ(small.status().totals.submitted, 2u);
}

TEST_F(TaskLifecycle, ARefusedSubmitIsAnsweredForEveryIdThatReadsAndNothingIsTaken) {
  const std::string why =
      "SUBMIT refused: record 3 of 3: task: empty function name; none of its tasks was taken";
  Submission s;
  s.error = why;
  s.refused = {{kSession, 1}, {kSession, 3}};
  h.submit(kBoss, std::move(s));
  std::vector<proto::Result> answers = h.results_to(kBoss);
  ASSERT_EQ(answers.size(), 2u);
  EXPECT_EQ(answers[0].id, (TaskId{kSession, 1}));
  EXPECT_EQ(answers[0].status, Status::kRejected);
  EXPECT_EQ(answers[0].payload,
            "the manager refused the task: SUBMIT refused: record 3 of 3: task: empty function "
            "name; none of its tasks was taken");
  EXPECT_EQ(answers[1].id, (TaskId{kSession, 3}));
  std::vector<proto::ErrorMessage> errors = h.errors_to(kBoss);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].code, "malformed");
  EXPECT_EQ(errors[0].text, why);
  EXPECT_EQ(h.core().tasks().size(), 0u);
}

TEST_F(TaskLifecycle, ATaskOfAnotherSessionIsRefusedByIdAndTheRestOfTheBatchIsTaken) {
  Submission s;
  s.tasks = {task(kSession, 1), task(0xDEAD, 2)};  // the second names another session
  h.submit(kBoss, std::move(s));
  std::vector<proto::Result> answers = h.results_to(kBoss);
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_EQ(answers[0].id, (TaskId{0xDEAD, 2}));
  EXPECT_EQ(answers[0].payload,
            "the manager refused the task: task 000000000000dead-2 does not belong to this "
            "boss's session");
  EXPECT_NE(h.record({kSession, 1}), nullptr);  // the good one is taken
  EXPECT_EQ(h.core().tasks().size(), 1u);
}

TEST_F(TaskLifecycle, AWaitLimitFailsATaskNobodyTookAndOneWhoseModuleNeverCame) {
  h.submit(kBoss, {task(kSession, 1, 0, 3, 1500)});  // no module yet
  h.advance(1600ms);
  h.tick();
  std::vector<proto::Result> r = h.results_to(kBoss);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].status, Status::kNoWorker);
  EXPECT_EQ(r[0].payload, "its module did not reach the manager within 1.5 s");

  h.put_module(kBoss);
  h.submit(kBoss, {task(kSession, 2, 0, 3, 1000)});  // queued: no worker
  h.advance(900ms);
  h.tick();
  EXPECT_TRUE(h.results_to(kBoss).empty());
  h.advance(200ms);
  h.tick();
  r = h.results_to(kBoss);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].payload,
            std::string("no worker for platform ") + kPlatform + " took it within 1 s");
  // A task assigned in time is not limited any more.
  h.worker_hello("wa", 1);
  h.submit(kBoss, {task(kSession, 3, 0, 3, 1000)});
  EXPECT_EQ(h.tasks_to("wa").size(), 1u);
  h.advance(2s);
  h.tick();
  EXPECT_TRUE(h.results_to(kBoss).empty());
}

TEST_F(TaskLifecycle, ABossWaitingForAnAbsentPlatformIsToldOnceAndNotWhenAWorkerIsThere) {
  store_module();
  h.submit(kBoss, {task(kSession, 1), task(kSession, 2)});
  h.advance(1s);
  h.tick();
  EXPECT_TRUE(h.texts_to(kBoss, Type::kNotice).empty());
  h.advance(1500ms);
  h.tick();
  h.advance(400ms);
  h.tick();
  std::vector<std::string> notices = h.texts_to(kBoss, Type::kNotice);
  ASSERT_EQ(notices.size(), 1u);
  EXPECT_EQ(notices[0], std::string("no worker for platform ") + kPlatform +
                            " is connected; tasks wait in the queue until one joins");
  h.worker_hello("wa", 2);
  EXPECT_EQ(h.tasks_to("wa").size(), 2u);
}

TEST_F(TaskLifecycle, CancelAnswersForEachStateAndStopsARunningTaskOnItsWorker) {
  h.submit(kBoss, {task(kSession, 1)});  // waits for its module
  h.cancel(kBoss, {{kSession, 1}});
  h.put_module(kBoss);
  h.worker_hello("wa", 1);
  h.submit(kBoss, {task(kSession, 2), task(kSession, 3), task(kSession, 4)});  // 2 runs
  h.results("wa", {result({kSession, 2})});  // done; 3 runs, 4 queued
  h.results_to(kBoss);
  h.tasks_to("wa");
  h.cancel(kBoss, {{kSession, 2}, {kSession, 3}, {kSession, 4}, {kSession, 99}});

  std::vector<proto::CancelOutcome> replies = h.cancel_replies_to(kBoss);
  ASSERT_EQ(replies.size(), 5u);
  EXPECT_EQ(replies[0].state, proto::CancelState::kCancelled);  // waiting for its module
  EXPECT_EQ(replies[1].state, proto::CancelState::kDone);
  EXPECT_EQ(replies[2].state, proto::CancelState::kStopping);   // running
  EXPECT_EQ(replies[3].state, proto::CancelState::kCancelled);  // queued
  EXPECT_EQ(replies[4].state, proto::CancelState::kUnknown);
  EXPECT_EQ(h.ids_to("wa", Type::kCancel), (std::vector<TaskId>{{kSession, 3}}));

  std::vector<proto::Result> r = h.results_to(kBoss);  // 1's was read above
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].id, (TaskId{kSession, 4}));
  EXPECT_EQ(r[0].status, Status::kCancelled);
  EXPECT_EQ(r[0].payload, "cancelled before it started");
  // The worker reports the stopped task cancelled: that ends it.
  h.results("wa", {result({kSession, 3}, Status::kCancelled, "cancelled while running")});
  r = h.results_to(kBoss);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].payload, "cancelled while running");
  EXPECT_EQ(h.status().assigned, 0u);
}

TEST_F(TaskLifecycle, ACancelFromAWorkerIsCarriedOutButNotAnswered) {
  store_module();
  h.worker_hello("wa", 1);
  h.submit(kBoss, {task(kSession, 1), task(kSession, 2)});
  h.cancel("wa", {{kSession, 2}});
  EXPECT_TRUE(h.cancel_replies_to("wa").empty());
  EXPECT_EQ(h.record({kSession, 2})->state, TaskState::kDone);
}

TEST_F(TaskLifecycle, AResultIsTakenOnceAndOnlyFromTheWorkerItIsAssignedTo) {
  store_module();
  h.worker_hello("wa", 1);
  h.worker_hello("wb", 1);
  h.submit(kBoss, {task(kSession, 1)});
  EXPECT_EQ(h.tasks_to("wa").size() + h.tasks_to("wb").size(), 1u);
  PeerId holder = h.record({kSession, 1})->worker->peer;
  PeerId other = holder == "wa" ? "wb" : "wa";
  // From a worker it is not assigned to: acknowledged, dropped.
  h.results(other, {result({kSession, 1}, Status::kOk, "\x01")});
  EXPECT_EQ(h.ids_to(other, Type::kAck).size(), 1u);
  EXPECT_TRUE(h.results_to(kBoss).empty());
  // From its worker, twice (resent after a reconnect): once to the boss.
  h.results(holder, {result({kSession, 1}), result({kSession, 1})});
  EXPECT_EQ(h.ids_to(holder, Type::kAck).size(), 2u);
  EXPECT_EQ(h.results_to(kBoss).size(), 1u);
  EXPECT_EQ(h.status().totals.completed, 1u);
}

TEST_F(TaskLifecycle, AResubmittedTaskRunsOnceAndADoneOneGetsItsResultAgain) {
  store_module();
  const std::uint64_t submitted = h.status().totals.submitted;
  h.worker_hello("wa", 2);
  h.submit(kBoss, {task(kSession, 1), task(kSession, 2)});
  EXPECT_EQ(h.tasks_to("wa").size(), 2u);
  h.results("wa", {result({kSession, 1})});
  EXPECT_EQ(h.results_to(kBoss).size(), 1u);
  // The boss resubmits both (it missed the result): 1 is resent, 2 ignored.
  auto again = [](std::uint64_t seq) {
    proto::Task t = task(kSession, seq);
    t.flags |= proto::kFlagResubmitted;
    return t;
  };
  h.submit(kBoss, {again(1), again(2)});
  std::vector<proto::Result> r = h.results_to(kBoss);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].id, (TaskId{kSession, 1}));
  EXPECT_TRUE(h.tasks_to("wa").empty());
  EXPECT_EQ(h.status().totals.submitted, submitted + 2);
}

TEST_F(TaskLifecycle, AnUndeliveredTasksMessageGoesBackToTheQueueWithoutAnAttempt) {
  store_module();
  h.worker_hello("wa", 1);
  h.unreachable.insert("wa");
  h.submit(kBoss, {task(kSession, 1)});
  const TaskRecord* t = h.record({kSession, 1});
  ASSERT_NE(t, nullptr);
  // Assigned, not sent, requeued; the next turn tries again.
  EXPECT_EQ(t->task.attempt, 1);
  h.unreachable.clear();
  h.turn();
  std::vector<proto::Task> sent = h.tasks_to("wa");
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].attempt, 1);
  EXPECT_EQ(h.status().totals.requeued, 0u);
}

TEST_F(TaskLifecycle, ARefusedUploadFailsOnlyTheUploadersWaitingTasks) {
  h.boss_hello("other", 0xB2);
  h.submit(kBoss, {task(kSession, 1)});
  h.submit("other", {task(0xB2, 1)});
  Outbox out;
  h.core().refuse_module(kBoss, module_hash(), "module of 9 bytes exceeds the limit", out);
  h.turn();
  std::vector<proto::Result> r = h.results_to(kBoss);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].status, Status::kRejected);
  EXPECT_EQ(r[0].payload, "module of 9 bytes exceeds the limit");
  EXPECT_TRUE(h.results_to("other").empty());
  h.put_module("other");
  EXPECT_EQ(h.record({0xB2, 1})->state, TaskState::kQueued);
}

TEST_F(TaskLifecycle, AnUploadThatDoesNotHashToItsNameIsRefused) {
  h.submit(kBoss, {task(kSession, 1)});
  proto::ModuleUpload up;
  up.hash = module_hash();
  up.platform = kPlatform;
  up.bytes = module_bytes() + "tampered";
  Outbox out;
  h.core().heard_from(kBoss, h.now);
  h.core().on_put_module(kBoss, std::move(up), h.now, out);
  EXPECT_EQ(h.record({kSession, 1})->state, TaskState::kDone);
  EXPECT_EQ(h.record({kSession, 1})->result->status, Status::kRejected);
  EXPECT_EQ(h.status().totals.modules, 0u);
}

TEST_F(TaskLifecycle, AServiceIsListedFromSubmissionAndItsBossIsToldWhenItStarts) {
  store_module();
  const std::uint8_t spawn = proto::kFlagService | proto::kFlagDetached | proto::kFlagStartedEvent;
  h.submit(kBoss, {task(kSession, 1, spawn), task(kSession, 2, proto::kFlagService)});
  proto::StatusReport s = h.status();
  ASSERT_EQ(s.services.size(), 2u);
  EXPECT_EQ(s.services[0].id, TaskId({kSession, 1}).str());
  EXPECT_EQ(s.services[0].state, proto::ServiceState::kQueued);
  EXPECT_EQ(s.services[0].worker, "");

  h.worker_hello("wa", 2, {}, 2);
  EXPECT_EQ(h.tasks_to("wa").size(), 2u);
  EXPECT_EQ(h.status().services[0].state, proto::ServiceState::kStarting);
  EXPECT_TRUE(h.ids_to(kBoss, Type::kServiceStarted).empty());

  // Its worker reports both running: only the one that asked is announced, once.
  h.heartbeat("wa", 2, {{kSession, 1}, {kSession, 2}});
  EXPECT_EQ(h.ids_to(kBoss, Type::kServiceStarted), (std::vector<TaskId>{{kSession, 1}}));
  h.heartbeat("wa", 2, {{kSession, 1}, {kSession, 2}});
  EXPECT_TRUE(h.ids_to(kBoss, Type::kServiceStarted).empty());
  s = h.status();
  EXPECT_EQ(s.services[0].state, proto::ServiceState::kRunning);
  EXPECT_TRUE(s.services[0].started);
  EXPECT_EQ(s.services[0].worker, "w-wa");
  EXPECT_EQ(s.running, 2u);

  // A boss that missed it (it resubmits after a reconnect) is told again.
  proto::Task again = task(kSession, 1, spawn | proto::kFlagResubmitted);
  h.submit(kBoss, {again});
  EXPECT_EQ(h.ids_to(kBoss, Type::kServiceStarted), (std::vector<TaskId>{{kSession, 1}}));

  h.cancel(kBoss, {{kSession, 1}});
  EXPECT_EQ(h.status().services[0].state, proto::ServiceState::kStopping);
  h.results("wa", {result({kSession, 1}, Status::kCancelled, "stopped")});
  s = h.status();
  ASSERT_EQ(s.services.size(), 1u);
  EXPECT_EQ(s.services[0].id, TaskId({kSession, 2}).str());
}

// A boss silent past the heartbeat timeout is marked away, but its
// connection may still be up: it is told that its service started all the
// same (uni spawn returns on that word).
TEST_F(TaskLifecycle, ABossMarkedAwayIsStillToldThatItsServiceStarted) {
  store_module();
  const std::uint8_t spawn = proto::kFlagService | proto::kFlagDetached | proto::kFlagStartedEvent;
  h.submit(kBoss, {task(kSession, 1, spawn)});
  h.worker_hello("wa", 1);
  ASSERT_EQ(h.tasks_to("wa").size(), 1u);
  h.advance(h.config().heartbeat_timeout + 1s);
  h.heartbeat("wa", 1);
  h.tick();
  h.heartbeat("wa", 1, {{kSession, 1}});
  EXPECT_EQ(h.ids_to(kBoss, Type::kServiceStarted), (std::vector<TaskId>{{kSession, 1}}));
}

TEST_F(TaskLifecycle, AServiceCancelledBeforeItStartedIsStoppedAgainWhenItDoesStart) {
  store_module();
  h.worker_hello("wa", 1);
  h.submit(kBoss, {task(kSession, 1, proto::kFlagService | proto::kFlagStartedEvent)});
  h.cancel(kBoss, {{kSession, 1}});
  EXPECT_EQ(h.ids_to("wa", Type::kCancel).size(), 1u);
  // It was already in an executor's pipeline, which starts it anyway.
  h.heartbeat("wa", 1, {{kSession, 1}});
  EXPECT_EQ(h.ids_to("wa", Type::kCancel), (std::vector<TaskId>{{kSession, 1}}));
  EXPECT_TRUE(h.ids_to(kBoss, Type::kServiceStarted).empty());
}

TEST_F(TaskLifecycle, StatusCountsComeFromTheTableAndItsWorkers) {
  h.worker_hello("wa", 4, {}, 2);
  h.submit(kBoss, {task(kSession, 1)});
  h.put_module(kBoss);
  h.submit(kBoss, {task(kSession, 2), task(kSession, 3)});
  h.heartbeat("wa", 1);
  proto::StatusReport s = h.status();
  EXPECT_EQ(s.manager, "m-test");
  EXPECT_EQ(s.endpoint, "tcp://127.0.0.1:7070");
  ASSERT_EQ(s.workers.size(), 1u);
  EXPECT_EQ(s.workers[0].id, "w-wa");
  EXPECT_EQ(s.workers[0].slots, 2u);
  EXPECT_EQ(s.workers[0].assigned, 3u);
  EXPECT_EQ(s.workers[0].busy, 1u);
  EXPECT_EQ(s.workers[0].capacity, 4u);
  EXPECT_EQ(s.workers[0].platform, kPlatform);
  EXPECT_EQ(s.assigned, 3u);
  EXPECT_EQ(s.running, 1u);
  EXPECT_EQ(s.queue, 0u);
  EXPECT_EQ(s.bosses, 1u);
  EXPECT_EQ(s.totals.modules, 1u);
  EXPECT_EQ(s.totals.module_bytes, module_bytes().size());
  Outbox out;
  h.core().on_fetch_module("wa", module_hash(), out);
  EXPECT_EQ(h.status().totals.module_fetches, 1u);
  EXPECT_EQ(h.status().totals.module_fetch_bytes, module_bytes().size());
}

// What a boss was asked for is forgotten once the module arrives: a module
// evicted from the store later is asked for again on the same connection,
// instead of leaving the boss's next task waiting for it for ever.
TEST(ModuleEviction, AModuleEvictedAfterItsUploadIsAskedForAgainOnTheSameConnection) {
  const std::string echo = read_file(std::string(UNI_MODULE_DIR) + "/libecho.so");
  ManagerConfig config;
  config.module_store_bytes = std::max(module_bytes().size(), echo.size()) + 1024;
  CoreHarness h(config);
  h.boss_hello(kBoss, kSession);
  h.submit(kBoss, {task(kSession, 1)});
  ASSERT_EQ(h.count_to(kBoss, Type::kNeedModule), 1u);
  h.put_module(kBoss);
  h.cancel(kBoss, {{kSession, 1}});
  h.ack(kBoss, {{kSession, 1}});

  // Another boss's module takes the store's room: factorial, unpinned, goes.
  const PeerId other = "other";
  h.boss_hello(other, kSession + 1);
  proto::Task echo_task = task(kSession + 1, 1);
  echo_task.module = ModuleHash::of(echo);
  h.submit(other, {echo_task});
  h.put_module(other, echo);
  h.forget_sent();

  h.submit(kBoss, {task(kSession, 2)});
  EXPECT_EQ(h.count_to(kBoss, Type::kNeedModule), 1u) << "the evicted module was not asked for";
  EXPECT_EQ(h.status().waiting_for_module, 1u);
  h.put_module(kBoss);
  EXPECT_EQ(h.status().waiting_for_module, 0u);
}

}  // namespace
}  // namespace uni::manager::testing
