// Proves the manager core's side of BECOME without a socket (docs/protocol.md
// 7.21, 7.22): requests for what is no running service are answered at once;
// a request waits for its module's upload, goes to the service's worker and
// the worker's answer goes back to the boss under the boss's request id; a
// success changes the service's module, function and become count; a second
// request while one is in flight is refused; a lost worker answers what was
// in flight.
#include <gtest/gtest.h>

#include "manager_core_harness.hpp"
#include "proto/become.hpp"

namespace uni::manager::testing {
namespace {

constexpr std::uint64_t kSession = 0xB1;
const PeerId kBoss = "boss";

const std::string& echo_bytes() {
  static const std::string bytes = read_file(std::string(UNI_MODULE_DIR) + "/libecho.so");
  return bytes;
}

class BecomeCore : public ::testing::Test {
 protected:
  CoreHarness h;
  const TaskId service{kSession, 1};

  // A service running on worker "wa".
  void SetUp() override {
    h.boss_hello(kBoss, kSession);
    h.worker_hello("wa", 1);
    h.submit(kBoss, {task(kSession, 1, proto::kFlagService)});
    h.put_module(kBoss);
    ASSERT_EQ(h.tasks_to("wa").size(), 1u);
    h.heartbeat("wa", 1, {service});
    h.forget_sent();
  }

  void become(std::uint64_t request, const TaskId& id, const ModuleHash& module,
              const std::string& function = "server") {
    proto::BecomeRequest r{request, id, module, function, 5000};
    h.say(kBoss, [&](ManagerCore& core, Outbox& out) { core.on_become(kBoss, r, h.now, out); });
  }
  std::vector<proto::BecomeReply> replies_to(const PeerId& peer) {
    std::vector<proto::BecomeReply> out;
    for (const std::string& m : h.messages_to(peer, Type::kBecomeReply))
      out.push_back(proto::read_become_reply(proto::Message::parse(m.data(), m.size())));
    return out;
  }
  std::vector<proto::BecomeRequest> requests_to(const PeerId& peer) {
    std::vector<proto::BecomeRequest> out;
    for (const std::string& m : h.messages_to(peer, Type::kBecome))
      out.push_back(proto::read_become(proto::Message::parse(m.data(), m.size())));
    return out;
  }
  void worker_replies(const proto::BecomeRequest& r, bool ok, std::string text = {}) {
    proto::BecomeReply reply{r.request, r.service, ok, std::move(text), 250000, 0};
    h.say("wa", [&](ManagerCore& core, Outbox& out) { core.on_become_reply("wa", reply, out); });
  }
};

TEST_F(BecomeCore, WhatIsNoRunningServiceIsAnsweredAtOnce) {
  become(7, {kSession, 99}, module_hash());
  std::vector<proto::BecomeReply> r = replies_to(kBoss);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].request, 7u);
  EXPECT_FALSE(r[0].ok);
  const std::string expected =
      "no service " + TaskId{kSession, 99}.str() + " is running (uni status lists the services)";
  EXPECT_EQ(r[0].text, expected);
  // A plain task is no service either; nothing went to the worker.
  h.submit(kBoss, {task(kSession, 2)});
  become(8, {kSession, 2}, module_hash());
  EXPECT_FALSE(replies_to(kBoss).at(0).ok);
  EXPECT_TRUE(requests_to("wa").empty());
}

TEST_F(BecomeCore, ARequestWaitsForItsModuleThenTheWorkersAnswerReachesTheBoss) {
  const ModuleHash echo = ModuleHash::of(echo_bytes());
  become(41, service, echo);
  // The manager lacks the module: it asks the boss, and holds the request.
  EXPECT_EQ(h.count_to(kBoss, Type::kNeedModule), 1u);
  EXPECT_TRUE(requests_to("wa").empty());
  h.put_module(kBoss, echo_bytes());
  std::vector<proto::BecomeRequest> sent = requests_to("wa");
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].service, service);
  EXPECT_EQ(sent[0].module, echo);
  EXPECT_EQ(sent[0].function, "server");
  EXPECT_EQ(sent[0].timeout_ms, 5000u);

  // Another request while this one is in flight is refused.
  become(42, service, echo);
  std::vector<proto::BecomeReply> busy = replies_to(kBoss);
  ASSERT_EQ(busy.size(), 1u);
  EXPECT_EQ(busy[0].request, 42u);
  EXPECT_FALSE(busy[0].ok);

  worker_replies(sent[0], true);
  std::vector<proto::BecomeReply> done = replies_to(kBoss);
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].request, 41u);  // the boss's id, not the manager's
  EXPECT_TRUE(done[0].ok);
  EXPECT_EQ(done[0].handover_ns, 250000u);
  EXPECT_EQ(done[0].becomes, 1u);
  proto::StatusReport s = h.status();
  ASSERT_EQ(s.services.size(), 1u);
  EXPECT_EQ(s.services[0].module, echo.hex());
  EXPECT_EQ(s.services[0].function, "server");
  EXPECT_EQ(s.services[0].becomes, 1u);
}

TEST_F(BecomeCore, AFailureLeavesTheRecordAndALostWorkerAnswersWhatWasInFlight) {
  become(1, service, module_hash(), "missing");
  std::vector<proto::BecomeRequest> sent = requests_to("wa");
  ASSERT_EQ(sent.size(), 1u);
  worker_replies(sent[0], false, "unknown function 'missing'");
  std::vector<proto::BecomeReply> r = replies_to(kBoss);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_FALSE(r[0].ok);
  EXPECT_EQ(r[0].text, "unknown function 'missing'");
  EXPECT_EQ(r[0].becomes, 0u);
  EXPECT_EQ(h.status().services.at(0).function, "factorial");
  EXPECT_EQ(h.status().services.at(0).module, module_hash().hex());

  become(2, service, module_hash(), "factorial");
  ASSERT_EQ(requests_to("wa").size(), 1u);
  h.bye("wa");
  r = replies_to(kBoss);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].request, 2u);
  EXPECT_FALSE(r[0].ok);
  EXPECT_NE(r[0].text.find("was lost"), std::string::npos) << r[0].text;
}

// A boss silent past the heartbeat timeout is marked away, but its connection
// may still be up (a stalled process): the answer is sent to it all the same,
// instead of leaving its request to wait out its deadline.
TEST_F(BecomeCore, TheAnswerReachesABossMarkedAwayWhoseConnectionStayedUp) {
  become(5, service, module_hash());
  std::vector<proto::BecomeRequest> sent = requests_to("wa");
  ASSERT_EQ(sent.size(), 1u);
  h.advance(h.config().heartbeat_timeout + 1s);
  h.heartbeat("wa", 1);
  h.tick();
  worker_replies(sent[0], true);
  std::vector<proto::BecomeReply> r = replies_to(kBoss);
  ASSERT_EQ(r.size(), 1u) << "no answer to a boss marked away";
  EXPECT_EQ(r[0].request, 5u);
  EXPECT_TRUE(r[0].ok);
}

}  // namespace
}  // namespace uni::manager::testing
