// Proves src/manager/access.hpp and the core's checks (manager_core*.cpp)
// without a socket: what each role may do, owners read from ids, refusals
// that name the key and say nothing of whether a task exists, sessions
// resumed only with their secret, and a worker's claims after a restart
// checked against its boss's resubmission.
#include <gtest/gtest.h>

#include "manager/access.hpp"
#include "manager_core_harness.hpp"

namespace uni::manager::testing {
namespace {

constexpr std::uint32_t kAlice = 0xA11CE000, kBob = 0xB0B00000;
const TaskId kAlicesTask{(static_cast<std::uint64_t>(kAlice) << 32) | 7, 1};

TEST(Access, EachRoleMayDoWhatItsRowSays) {
  for (Action a : {Action::kSubmit, Action::kCancel, Action::kBecome, Action::kFetchResult})
    EXPECT_FALSE(may(Role::kObserver, a));
  EXPECT_TRUE(may(Role::kObserver, Action::kStatus));
  EXPECT_FALSE(may(Role::kObserver, Action::kServe));
  EXPECT_TRUE(may(Role::kWorker, Action::kServe));
  for (Action a :
       {Action::kSubmit, Action::kStatus, Action::kCancel, Action::kBecome, Action::kFetchResult})
    EXPECT_FALSE(may(Role::kWorker, a));
  EXPECT_FALSE(may(Role::kBoss, Action::kServe));
  for (Action a :
       {Action::kSubmit, Action::kStatus, Action::kCancel, Action::kBecome, Action::kFetchResult})
    EXPECT_TRUE(may(Role::kBoss, a));
  for (Action a : {Action::kServe, Action::kSubmit, Action::kStatus, Action::kCancel,
                   Action::kBecome, Action::kFetchResult})
    EXPECT_TRUE(may(Role::kAdmin, a));
}

TEST(Access, OwnersAreReadFromTheIdAndAdminsAndTheSharedAuthkeyOwnEverything) {
  auto alice = CoreHarness::identity("alice", Role::kBoss, kAlice);
  auto bob = CoreHarness::identity("bob", Role::kBoss, kBob);
  auto root = CoreHarness::identity("root", Role::kAdmin, 0x0);
  EXPECT_TRUE(owns(*alice, kAlicesTask));
  EXPECT_FALSE(owns(*bob, kAlicesTask));
  EXPECT_TRUE(owns(*root, kAlicesTask));
  EXPECT_TRUE(owns(*CoreHarness::shared_identity(), kAlicesTask));
  EXPECT_EQ(role_refusal(*bob, Action::kServe),
            "refused: key 'bob' has role boss, which may not serve as a worker");
  EXPECT_EQ(owner_refusal(*bob, Action::kCancel, kAlicesTask),
            "refused: key 'bob' (role boss) may not cancel or stop " + kAlicesTask.str() +
                ": it belongs to another key");
}

class Owners : public ::testing::Test {
 protected:
  void SetUp() override {
    h.keys["alice"] = CoreHarness::identity("alice", Role::kBoss, kAlice);
    h.keys["bob"] = CoreHarness::identity("bob", Role::kBoss, kBob);
    h.keys["w1"] = CoreHarness::identity("w1", Role::kWorker, 0xD0000000);
    h.boss_hello("alice", kAlicesTask.session, "alice's secret");
    h.boss_hello("bob", static_cast<std::uint64_t>(kBob) << 32, "bob's secret");
    h.worker_hello("w1", 1);
  }
  CoreHarness h;
};

TEST_F(Owners, CancelOfAnotherKeysTaskIsRefusedWhetherOrNotItExists) {
  h.put_module("alice");
  h.submit("alice", {task(kAlicesTask.session, 1)});
  h.cancel("bob", {kAlicesTask});
  std::vector<proto::ErrorMessage> e = h.errors_to("bob");
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].code, "refused");
  h.cancel("bob", {{kAlicesTask.session, 99}});  // never submitted: the same answer
  std::vector<proto::ErrorMessage> again = h.errors_to("bob");
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].text.substr(0, 40), e[0].text.substr(0, 40));
  EXPECT_TRUE(h.cancel_replies_to("bob").empty());
  EXPECT_EQ(h.record(kAlicesTask)->state, TaskState::kRunning);  // untouched
  h.cancel("alice", {kAlicesTask});
  EXPECT_EQ(h.cancel_replies_to("alice").size(), 1u);
}

TEST_F(Owners, ASessionIsResumedOnlyWithItsSecretAndOnlyByItsKey) {
  h.put_module("alice");
  h.submit("alice", {task(kAlicesTask.session, 1)});
  h.keys["eve"] = h.keys["alice"];  // the same key, another client: no secret
  h.boss_hello("eve", kAlicesTask.session, "guess");
  std::vector<proto::ErrorMessage> e = h.errors_to("eve");
  ASSERT_EQ(e.size(), 1u);
  EXPECT_NE(e[0].text.find("belongs to another client"), std::string::npos) << e[0].text;
  h.boss_hello("bob", kAlicesTask.session, "alice's secret");  // another key, even with it
  e = h.errors_to("bob");
  ASSERT_EQ(e.size(), 1u);
  EXPECT_NE(e[0].text.find("refused: key 'bob' may not open session"), std::string::npos);
  // Alice, reconnecting, gets her results.
  h.results("w1", {result(kAlicesTask)});
  h.boss_hello("alice-again", kAlicesTask.session, "alice's secret");
  EXPECT_EQ(h.results_to("alice-again").size(), 1u);
}

TEST_F(Owners, AKeysRoleDecidesWhatItsConnectionMaySend) {
  h.keys["ops"] = CoreHarness::identity("ops", Role::kObserver, 0x0B5E0000);
  h.boss_hello("ops", 0x0B5E000000000001ull);
  h.submit("ops", {task(0x0B5E000000000001ull, 1)});
  std::vector<proto::Result> r = h.results_to("ops");
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].status, Status::kRefused);
  EXPECT_EQ(r[0].payload, "refused: key 'ops' has role observer, which may not submit");
  EXPECT_EQ(h.status().totals.submitted, 0u);
  h.say("ops", [&](ManagerCore& core, Outbox& out) { core.on_status("ops", h.now, out); });
  EXPECT_EQ(h.count_to("ops", Type::kStatusReply), 1u);
  h.keys["alice-as-worker"] = h.keys["alice"];
  h.worker_hello("alice-as-worker", 1);
  std::vector<proto::ErrorMessage> e = h.errors_to("alice-as-worker");
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].text, "refused: key 'alice' has role boss, which may not serve as a worker");
  EXPECT_EQ(h.status().workers.size(), 1u);
}

class Claims : public ::testing::Test {
 protected:
  static constexpr std::uint64_t kSession = 0xB1;
  proto::RunningTask claim(std::uint64_t seq, std::string args) {
    proto::RunningTask rt;
    rt.id = {kSession, seq};
    rt.module = module_hash();
    rt.function = "factorial";
    rt.args_digest = proto::digest_args(args);
    return rt;
  }
  proto::Task resubmitted(std::uint64_t seq) {
    return task(kSession, seq, proto::kFlagResubmitted);
  }
  CoreHarness h;
};

TEST_F(Claims, AfterARestartAClaimWithoutTheTasksArgumentsIsUndoneAtItsResubmission) {
  h.boss_hello("boss", kSession);
  h.worker_hello("liar", 0, {claim(1, "not its arguments")});  // no room: only its claim
  EXPECT_TRUE(h.record({kSession, 1})->placeholder);
  // Its result comes before the boss resubmits: held, not believed yet.
  h.results("liar", {result({kSession, 1}, Status::kOk, "forged")});
  EXPECT_TRUE(h.results_to("boss").empty());
  EXPECT_TRUE(h.ids_to("liar", Type::kAck).empty());
  h.put_module("boss");
  h.submit("boss", {resubmitted(1)});
  EXPECT_EQ(h.ids_to("liar", Type::kCancel), (std::vector<TaskId>{{kSession, 1}}));
  EXPECT_TRUE(h.results_to("boss").empty());
  // It runs again, for real, on a worker it is given to.
  h.worker_hello("honest", 1);
  std::vector<proto::Task> sent = h.tasks_to("honest");
  ASSERT_EQ(sent.size(), 1u);
  h.results("honest", {result({kSession, 1}, Status::kOk, "real")});
  std::vector<proto::Result> r = h.results_to("boss");
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].payload, "real");
}

TEST_F(Claims, AfterARestartAClaimWithTheTasksArgumentsHoldsAndItsEarlyResultCounts) {
  h.boss_hello("boss", kSession);
  h.worker_hello("wa", 1, {claim(1, task(kSession, 1).args)});
  h.results("wa", {result({kSession, 1}, Status::kOk, "done early")});
  EXPECT_TRUE(h.results_to("boss").empty());
  h.put_module("boss");
  h.submit("boss", {resubmitted(1)});
  std::vector<proto::Result> r = h.results_to("boss");
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].payload, "done early");
  EXPECT_EQ(h.ids_to("wa", Type::kAck), (std::vector<TaskId>{{kSession, 1}}));
}

TEST_F(Claims, PastTheRecoveryWindowAnUnknownTaskIsStoppedNotAdopted) {
  h.advance(h.config().recovery_window + std::chrono::seconds(1));
  h.worker_hello("wa", 1, {claim(1, task(kSession, 1).args)});
  EXPECT_EQ(h.record({kSession, 1}), nullptr);
  EXPECT_EQ(h.ids_to("wa", Type::kCancel), (std::vector<TaskId>{{kSession, 1}}));
}

TEST_F(Claims, AResubmittedTaskGoesToTheWorkerThatShowsItWasSentItOneTryOnly) {
  h.boss_hello("boss", kSession);
  h.put_module("boss");
  h.submit("boss", {resubmitted(1)});  // held for the recovery window
  h.worker_hello("guesser", 1, {claim(1, "a guess")});
  EXPECT_EQ(h.ids_to("guesser", Type::kCancel), (std::vector<TaskId>{{kSession, 1}}));
  // After a wrong claim no claim is taken, not even a right one.
  h.worker_hello("second", 1, {claim(1, task(kSession, 1).args)});
  EXPECT_EQ(h.ids_to("second", Type::kCancel), (std::vector<TaskId>{{kSession, 1}}));
}

}  // namespace
}  // namespace uni::manager::testing
