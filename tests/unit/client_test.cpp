// Proves the boss's client (src/client/client.hpp) over a broker link double
// (boss_link_double.hpp), with no socket and no broker: tasks go to the link
// with their module's platform and resolve on their results, which are
// acknowledged; a module is uploaded when the broker needs it; after a
// reconnection every unfinished task is submitted again in order, flagged,
// and cancels are repeated; tasks a broker says it lost go again, alone and
// flagged; "queue full" means submitted again later; status
// and cancel answers reach the caller typed, and a request the link fails
// (a drop) reaches the caller at once; services started wake their waiters;
// a task larger than the broker accepts is refused without being sent; the
// client says goodbye when it goes.
#include <gtest/gtest.h>

#include <algorithm>
#include <future>
#include <memory>
#include <msgpack.hpp>
#include <thread>

#include "boss_link_double.hpp"
#include "client/client.hpp"

namespace uni::test {
namespace {

using namespace std::chrono_literals;
using detail::Client;
using detail::ModuleInfo;
using detail::TaskState;
using proto::Status;
using proto::TaskId;

constexpr std::uint64_t kSession = 0x5e55;

std::shared_ptr<const ModuleInfo> test_module(std::string bytes = "module bytes") {
  auto m = std::make_shared<ModuleInfo>();
  m->path = "libtest.so";
  m->bytes = std::move(bytes);
  m->hash = ModuleHash::of(m->bytes);
  m->platform = "test-platform";
  return m;
}

std::string pack_int(int v) {
  msgpack::sbuffer b;
  msgpack::pack(b, std::make_tuple(v));
  return std::string(b.data(), b.size());
}

proto::Result result_of(const TaskId& id, Status status, std::string payload) {
  proto::Result r;
  r.id = id;
  r.status = status;
  r.payload = std::move(payload);
  r.worker = "w1";
  r.host = "host";
  return r;
}

bool wait_done(const std::shared_ptr<TaskState>& t) {
  std::unique_lock lock(t->mutex);
  return t->finished.wait_for(lock, 20s, [&] { return t->done; });
}

class ClientOverDouble : public ::testing::Test {
 protected:
  void start(broker::BrokerInfo info = {}) {
    info.id = "broker-1";
    info.heartbeat = 100ms;
    client_ = Client::start(std::make_unique<BossLinkDouble>(stage_, info), kSession,
                            "test://broker", {});
  }
  std::shared_ptr<TaskState> submit(int arg, std::uint8_t flags = 0,
                                    std::shared_ptr<const ModuleInfo> module = test_module()) {
    return client_->submit(std::move(module), "f", pack_int(arg), {}, flags);
  }
  std::size_t submitted() {
    return stage_->with([](BossLinkRecord& r) { return r.submitted.size(); });
  }
  // Plays the broker delivering these results.
  void deliver(std::vector<proto::Result> results) {
    stage_->play([results](broker::BossEvents& e) mutable { e.on_results(results); });
  }

  std::shared_ptr<BossStage> stage_ = std::make_shared<BossStage>();
  std::shared_ptr<Client> client_;
};

TEST_F(ClientOverDouble, TasksGoToTheLinkAndResolveOnTheirResultsWhichAreAcknowledged) {
  start();
  EXPECT_TRUE(stage_->with([](BossLinkRecord& r) { return r.opened; }));
  auto a = submit(1), b = submit(2), c = submit(3);
  ASSERT_TRUE(stage_->wait_until([](BossLinkRecord& r) { return r.submitted.size() == 3; },
                                 "three tasks submitted"));
  stage_->with([&](BossLinkRecord& r) {
    EXPECT_EQ(r.submitted[0].id, a->task.id);
    EXPECT_EQ(r.submitted[2].id, c->task.id);
    EXPECT_EQ(r.submitted[1].args, pack_int(2));
    EXPECT_EQ(r.platforms[1], "test-platform");
    EXPECT_EQ(r.submitted[0].id.session, kSession);
  });
  deliver(
      {result_of(a->task.id, Status::kOk, "A"), result_of(c->task.id, Status::kException, "C")});
  ASSERT_TRUE(wait_done(a));
  ASSERT_TRUE(wait_done(c));
  EXPECT_EQ(a->result.payload, "A");
  EXPECT_EQ(c->result.status, Status::kException);
  EXPECT_FALSE(b->done);
  ASSERT_TRUE(stage_->wait_until([](BossLinkRecord& r) { return r.acked.size() == 2; },
                                 "both results acknowledged"));
  EXPECT_EQ(client_->outstanding(), 1u);  // counted down before the acks go out
  stage_->with([&](BossLinkRecord& r) {
    EXPECT_TRUE(std::count(r.acked.begin(), r.acked.end(), a->task.id));
    EXPECT_TRUE(std::count(r.acked.begin(), r.acked.end(), c->task.id));
  });
  // A second copy of a result (after a reconnect) changes nothing.
  deliver({result_of(a->task.id, Status::kOk, "A again")});
  deliver({result_of(b->task.id, Status::kOk, "B")});
  ASSERT_TRUE(wait_done(b));
  ASSERT_TRUE(stage_->wait_until([](BossLinkRecord& r) { return r.acked.size() == 4; },
                                 "the copy and the last result acknowledged"));
  EXPECT_EQ(a->result.payload, "A");
  EXPECT_EQ(client_->outstanding(), 0u);
}

TEST_F(ClientOverDouble, AModuleIsUploadedWhenTheBrokerNeedsIt) {
  start();
  auto module = test_module("the module's bytes");
  submit(1, 0, module);
  ASSERT_TRUE(stage_->wait_until([](BossLinkRecord& r) { return r.submitted.size() == 1; },
                                 "the task submitted"));
  stage_->play([hash = module->hash](broker::BossEvents& e) { e.on_module_needed(hash); });
  ASSERT_TRUE(stage_->wait_until([](BossLinkRecord& r) { return r.modules.size() == 1; },
                                 "the module uploaded"));
  stage_->with([&](BossLinkRecord& r) {
    EXPECT_EQ(r.modules[0].first, module->hash);
    EXPECT_EQ(r.modules[0].second, "the module's bytes");
  });
}

TEST_F(ClientOverDouble, AfterAReconnectionUnfinishedTasksGoAgainInOrderFlaggedAndCancelsRepeat) {
  start();
  auto a = submit(1), b = submit(2), c = submit(3);
  ASSERT_TRUE(stage_->wait_until([](BossLinkRecord& r) { return r.submitted.size() == 3; },
                                 "three tasks submitted"));
  deliver({result_of(b->task.id, Status::kOk, "B")});
  ASSERT_TRUE(wait_done(b));
  client_->cancel_async(c->task.id);
  ASSERT_TRUE(stage_->wait_until([](BossLinkRecord& r) { return r.cancels.size() == 1; },
                                 "the cancel sent"));
  stage_->play([](broker::BossEvents& e) {
    broker::BrokerInfo restarted;
    restarted.id = "broker-2";
    e.on_reconnected(restarted);
  });
  ASSERT_TRUE(stage_->wait_until(
      [](BossLinkRecord& r) { return r.submitted.size() == 5 && r.cancels.size() == 2; },
      "the unfinished tasks submitted again and the cancel repeated"));
  stage_->with([&](BossLinkRecord& r) {
    EXPECT_EQ(r.submitted[3].id, a->task.id);
    EXPECT_EQ(r.submitted[4].id, c->task.id);
    EXPECT_TRUE(r.submitted[3].flags & proto::kFlagResubmitted);
    EXPECT_TRUE(r.submitted[4].flags & proto::kFlagResubmitted);
    EXPECT_EQ(r.submitted[4].args, pack_int(3));
    EXPECT_EQ(r.cancels[1], std::vector<TaskId>{c->task.id});
  });
}

// A broker with no manager (NATS) says which tasks it no longer holds: only
// those go again, flagged (the broker gives them new message ids).
TEST_F(ClientOverDouble, TasksTheBrokerLostAreSubmittedAgainAloneAndFlagged) {
  start();
  auto a = submit(1), b = submit(2), c = submit(3);
  ASSERT_TRUE(stage_->wait_until([](BossLinkRecord& r) { return r.submitted.size() == 3; },
                                 "three tasks submitted"));
  deliver({result_of(a->task.id, Status::kOk, "A")});
  ASSERT_TRUE(wait_done(a));
  stage_->play([ids = std::vector<TaskId>{c->task.id, a->task.id}](broker::BossEvents& e) {
    e.on_tasks_lost(ids);
  });
  ASSERT_TRUE(stage_->wait_until([](BossLinkRecord& r) { return r.submitted.size() == 4; },
                                 "the lost task submitted again"));
  stage_->with([&](BossLinkRecord& r) {
    EXPECT_EQ(r.submitted[3].id, c->task.id);  // not a, which had its result
    EXPECT_TRUE(r.submitted[3].flags & proto::kFlagResubmitted);
    EXPECT_EQ(r.submitted[3].args, pack_int(3));
  });
  EXPECT_FALSE(b->done);
  EXPECT_FALSE(c->done);
}

TEST_F(ClientOverDouble, QueueFullMeansSubmittedAgainLaterNotFinished) {
  start();
  auto a = submit(1);
  ASSERT_TRUE(stage_->wait_until([](BossLinkRecord& r) { return r.submitted.size() == 1; },
                                 "the task submitted"));
  deliver({result_of(a->task.id, Status::kQueueFull, "10 tasks")});
  ASSERT_TRUE(stage_->wait_until([](BossLinkRecord& r) { return r.submitted.size() == 2; },
                                 "the task submitted again"));
  EXPECT_EQ(stage_->with([](BossLinkRecord& r) { return r.submitted[1].id; }), a->task.id);
  EXPECT_FALSE(a->done);
  EXPECT_TRUE(stage_->with([](BossLinkRecord& r) { return r.acked.empty(); }));
}

TEST_F(ClientOverDouble, StatusAndCancelAnswersReachTheCallerTyped) {
  start();
  auto status = std::async(std::launch::async, [&] { return client_->status(20s); });
  ASSERT_TRUE(stage_->wait_until([](BossLinkRecord& r) { return r.status_replies.size() == 1; },
                                 "the status asked"));
  stage_->with([](BossLinkRecord& r) {
    proto::StatusReport report;
    report.queue = 7;
    report.workers.push_back({});
    report.workers[0].id = "w1";
    r.status_replies[0]->set_value(report);
    r.status_replies.clear();
  });
  proto::StatusReport report = status.get();
  EXPECT_EQ(report.queue, 7u);
  ASSERT_EQ(report.workers.size(), 1u);
  EXPECT_EQ(report.workers[0].id, "w1");

  TaskId id{9, 1};
  auto cancel = std::async(std::launch::async, [&] { return client_->cancel({id}, 20s); });
  ASSERT_TRUE(stage_->wait_until([](BossLinkRecord& r) { return r.cancel_replies.size() == 1; },
                                 "the cancel asked"));
  stage_->with([&](BossLinkRecord& r) {
    EXPECT_EQ(r.cancels.at(0), std::vector<TaskId>{id});
    r.cancel_replies[0]->set_value({{id, proto::CancelState::kStopping}});
    r.cancel_replies.clear();
  });
  std::vector<proto::CancelOutcome> outcomes = cancel.get();
  ASSERT_EQ(outcomes.size(), 1u);
  EXPECT_EQ(outcomes[0].id, id);
  EXPECT_EQ(outcomes[0].state, proto::CancelState::kStopping);
}

TEST_F(ClientOverDouble, ARequestFailedByADropReachesTheCallerAtOnceNotAtItsTimeout) {
  start();
  // A timeout far longer than the test's own limit: only the link's failure
  // can end the wait in time.
  auto status = std::async(std::launch::async, [&] { return client_->status(1h); });
  ASSERT_TRUE(stage_->wait_until([](BossLinkRecord& r) { return r.status_replies.size() == 1; },
                                 "the status asked"));
  stage_->play([stage = stage_](broker::BossEvents& e) {
    BossLinkDouble::drop(*stage, e, "the connection dropped before it answered");
  });
  ASSERT_EQ(status.wait_for(20s), std::future_status::ready);
  try {
    status.get();
    ADD_FAILURE() << "a status answered by a dropped connection";
  } catch (const ConnectError& e) {
    EXPECT_STREQ(e.what(), "the connection dropped before it answered");
  }
}

TEST_F(ClientOverDouble, AServiceStartedWakesItsWaiter) {
  start();
  auto service = submit(1, proto::kFlagService | proto::kFlagStartedEvent);
  auto other = submit(2, proto::kFlagService | proto::kFlagStartedEvent);
  ASSERT_TRUE(stage_->wait_until([](BossLinkRecord& r) { return r.submitted.size() == 2; },
                                 "the services submitted"));
  stage_->play([id = service->task.id](broker::BossEvents& e) { e.on_services_started({id}); });
  {
    std::unique_lock lock(service->mutex);
    ASSERT_TRUE(service->finished.wait_for(lock, 20s, [&] { return service->started; }));
    EXPECT_FALSE(service->done);
  }
  std::lock_guard lock(other->mutex);
  EXPECT_FALSE(other->started);
}

TEST_F(ClientOverDouble, ATaskLargerThanTheBrokerAcceptsIsRefusedWithoutBeingSent) {
  broker::BrokerInfo info;
  info.max_message = 1000;
  start(info);
  auto big = client_->submit(test_module(), "f", std::string(2000, 'x'), {}, 0);
  auto small = submit(1);
  ASSERT_TRUE(wait_done(big));
  EXPECT_EQ(big->result.status, Status::kRejected);
  EXPECT_NE(big->result.payload.find("--max-message"), std::string::npos) << big->result.payload;
  ASSERT_TRUE(stage_->wait_until([](BossLinkRecord& r) { return r.submitted.size() == 1; },
                                 "the small task submitted"));
  EXPECT_EQ(stage_->with([](BossLinkRecord& r) { return r.submitted[0].id; }), small->task.id);
}

TEST_F(ClientOverDouble, TheClientHeartbeatsAndSaysGoodbyeWhenItGoes) {
  start();
  ASSERT_TRUE(
      stage_->wait_until([](BossLinkRecord& r) { return r.heartbeats >= 2; }, "heartbeats"));
  client_.reset();
  EXPECT_EQ(stage_->with([](BossLinkRecord& r) { return r.closed; }),
            std::optional<std::string>("boss leaving"));
}

}  // namespace
}  // namespace uni::test
