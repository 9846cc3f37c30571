// Proves the worker's supervisor (src/worker/supervisor.hpp) over a broker
// link double (worker_link_double.hpp), with no socket and no broker, running
// real tasks in threads: it announces itself and grants credit; a task it is
// given fetches its module, runs, and its result goes out and is held until
// the broker has stored it; after a reconnection unstored results and module
// fetches are sent again; a task given twice runs once; a cancelled task that
// waits for its module ends cancelled; draining grants no credit and leaves
// with a goodbye.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <future>
#include <msgpack.hpp>
#include <thread>

#include "common/module_file.hpp"
#include "worker/supervisor.hpp"
#include "worker_link_double.hpp"

namespace uni::test {
namespace {

using namespace std::chrono_literals;
using proto::Status;
using proto::TaskId;

const ModuleFile& testfns() {
  static const ModuleFile module = ModuleFile::load(std::string(UNI_MODULE_DIR) + "/libtestfns.so");
  return module;
}

template <typename... Args>
proto::Task task(std::uint64_t seq, const std::string& fn, Args... args) {
  msgpack::sbuffer packed;
  msgpack::pack(packed, std::make_tuple(args...));
  proto::Task t;
  t.id = {77, seq};
  t.module = testfns().hash;
  t.function = fn;
  t.args = std::string(packed.data(), packed.size());
  return t;
}

int int_of(const std::string& payload) {
  return msgpack::unpack(payload.data(), payload.size())->as<int>();
}

std::size_t results_for(const WorkerLinkRecord& r, const TaskId& id) {
  return std::count_if(r.results.begin(), r.results.end(),
                       [&](const proto::Result& x) { return x.id == id; });
}

class SupervisorOverDouble : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/uni-supervisor-test-XXXXXX";
    ASSERT_NE(::mkdtemp(dir), nullptr);
    cache_dir_ = dir;
    worker::WorkerConfig config;
    config.slots = 1;
    config.thread_isolation = true;
    config.cache_dir = cache_dir_ + "/modules";
    config.drain_timeout = 5s;
    broker::BrokerInfo info;
    info.id = "broker-1";
    info.heartbeat = 100ms;
    supervisor_ = std::make_unique<worker::Supervisor>(
        config, std::make_unique<WorkerLinkDouble>(stage_, info));
    running_ = std::async(std::launch::async, [this] { supervisor_->run(); });
    ASSERT_TRUE(stage_->wait_until([](WorkerLinkRecord& r) { return r.opened.has_value(); },
                                   "the worker announced"));
  }
  void TearDown() override {
    supervisor_->request_stop();
    if (running_.valid()) running_.get();
    supervisor_.reset();
    std::filesystem::remove_all(cache_dir_);
  }

  void give(std::vector<proto::Task> tasks) {
    stage_->play([tasks](broker::WorkerEvents& e) mutable { e.on_tasks(tasks); });
  }
  void send_module() {
    stage_->play([](broker::WorkerEvents& e) {
      proto::ModuleReply reply;
      reply.hash = testfns().hash;
      reply.bytes = testfns().bytes;
      e.on_module(reply);
    });
  }
  void reconnect() {
    stage_->play([](broker::WorkerEvents& e) {
      broker::BrokerInfo again;
      again.id = "broker-2";
      again.heartbeat = 100ms;
      e.on_reconnected(again);
    });
  }
  // What the supervisor would announce now (on its own thread).
  broker::WorkerAnnouncement announcement() {
    auto promise = std::make_shared<std::promise<broker::WorkerAnnouncement>>();
    auto answer = promise->get_future();
    stage_->play([promise](broker::WorkerEvents& e) { promise->set_value(e.announce()); });
    EXPECT_EQ(answer.wait_for(20s), std::future_status::ready);
    return answer.get();
  }

  std::string cache_dir_;
  std::shared_ptr<WorkerStage> stage_ = std::make_shared<WorkerStage>();
  std::unique_ptr<worker::Supervisor> supervisor_;
  std::future<void> running_;
};

TEST_F(SupervisorOverDouble, ATaskFetchesItsModuleRunsAndIsHeldUntilItsResultIsStored) {
  stage_->with([](WorkerLinkRecord& r) {
    EXPECT_EQ(r.opened->slots, 1u);
    EXPECT_GT(r.opened->capacity, 0u);
    EXPECT_EQ(r.opened->isolation, "thread");
    EXPECT_TRUE(r.opened->held.empty());
  });
  proto::Task add = task(1, "add", 2, 3);
  give({add});
  ASSERT_TRUE(stage_->wait_until([](WorkerLinkRecord& r) { return r.fetches.size() == 1; },
                                 "the module fetched"));
  EXPECT_EQ(stage_->with([](WorkerLinkRecord& r) { return r.fetches[0]; }), testfns().hash);
  send_module();
  ASSERT_TRUE(stage_->wait_until([](WorkerLinkRecord& r) { return r.results.size() == 1; },
                                 "the result sent"));
  stage_->with([&](WorkerLinkRecord& r) {
    EXPECT_EQ(r.results[0].id, add.id);
    EXPECT_EQ(r.results[0].status, Status::kOk) << r.results[0].payload;
    EXPECT_EQ(int_of(r.results[0].payload), 5);
  });
  broker::WorkerAnnouncement held = announcement();
  ASSERT_EQ(held.held.size(), 1u);
  EXPECT_EQ(held.held[0].id, add.id);

  stage_->play([id = add.id](broker::WorkerEvents& e) { e.on_results_stored({id}); });
  EXPECT_TRUE(announcement().held.empty());
}

TEST_F(SupervisorOverDouble, AfterAReconnectionUnstoredResultsAndModuleFetchesGoAgain) {
  proto::Task add = task(1, "add", 20, 22);
  give({add});
  ASSERT_TRUE(stage_->wait_until([](WorkerLinkRecord& r) { return r.fetches.size() == 1; },
                                 "the module fetched"));
  reconnect();
  ASSERT_TRUE(stage_->wait_until([](WorkerLinkRecord& r) { return r.fetches.size() == 2; },
                                 "the module fetched again"));
  send_module();
  ASSERT_TRUE(stage_->wait_until([](WorkerLinkRecord& r) { return r.results.size() == 1; },
                                 "the result sent"));
  reconnect();
  ASSERT_TRUE(stage_->wait_until([](WorkerLinkRecord& r) { return r.results.size() == 2; },
                                 "the unstored result sent again"));
  stage_->with([&](WorkerLinkRecord& r) {
    EXPECT_EQ(results_for(r, add.id), 2u);
    EXPECT_EQ(int_of(r.results[1].payload), 42);
  });
}

TEST_F(SupervisorOverDouble, ATaskGivenTwiceRunsOnce) {
  proto::Task first = task(1, "add", 1, 1);
  proto::Task second = task(2, "add", 2, 2);
  give({first});
  give({first, second});  // as after a reconnection: the first one again
  send_module();
  ASSERT_TRUE(stage_->wait_until(
      [&](WorkerLinkRecord& r) { return results_for(r, second.id) == 1; }, "both ran"));
  EXPECT_EQ(announcement().held.size(), 2u);
  stage_->with([&](WorkerLinkRecord& r) {
    EXPECT_EQ(results_for(r, first.id), 1u);
    EXPECT_EQ(r.results.size(), 2u);
  });
}

TEST_F(SupervisorOverDouble, ACancelledTaskThatWaitsForItsModuleEndsCancelled) {
  proto::Task add = task(1, "add", 2, 3);
  give({add});
  ASSERT_TRUE(stage_->wait_until([](WorkerLinkRecord& r) { return r.fetches.size() == 1; },
                                 "the module fetched"));
  stage_->play([id = add.id](broker::WorkerEvents& e) { e.on_cancel({id}); });
  ASSERT_TRUE(stage_->wait_until([](WorkerLinkRecord& r) { return r.results.size() == 1; },
                                 "the cancelled result sent"));
  EXPECT_EQ(stage_->with([](WorkerLinkRecord& r) { return r.results[0].status; }),
            Status::kCancelled);
}

TEST_F(SupervisorOverDouble, DrainingGrantsNoMoreCreditAndLeavesWithAGoodbye) {
  supervisor_->request_drain();
  ASSERT_EQ(running_.wait_for(20s), std::future_status::ready);
  running_.get();
  stage_->with([](WorkerLinkRecord& r) {
    ASSERT_FALSE(r.credit.empty());
    EXPECT_EQ(r.credit.back(), 0u);
    EXPECT_EQ(r.closed, std::optional<std::string>("worker stopping"));
  });
}

}  // namespace
}  // namespace uni::test

namespace uni::test {
namespace {

// BECOME: a request for a service that does not run here, and
// one under thread isolation, where no service can hand over, are each
// answered at once, saying why; the task itself runs on untouched.
TEST_F(SupervisorOverDouble, ABecomeThatCannotHappenHereIsAnsweredSayingWhy) {
  auto become = [&](std::uint64_t request, const TaskId& id) {
    stage_->play([request, id](broker::WorkerEvents& e) {
      e.on_become({request, id, testfns().hash, "sleep_ms", 1000});
    });
  };
  become(1, {77, 9});
  ASSERT_TRUE(stage_->wait_until([](WorkerLinkRecord& r) { return r.become_replies.size() == 1; },
                                 "the first answer"));
  stage_->with([](WorkerLinkRecord& r) {
    EXPECT_EQ(r.become_replies[0].request, 1u);
    EXPECT_FALSE(r.become_replies[0].ok);
    EXPECT_EQ(r.become_replies[0].text, "the service no longer runs on this worker");
  });

  proto::Task service = task(2, "sleep_ms", 1500);
  service.flags = proto::kFlagService;
  give({service});
  send_module();
  ASSERT_TRUE(stage_->wait_until([](WorkerLinkRecord& r) { return r.last_busy == 1; },
                                 "the service running"));
  become(2, service.id);
  ASSERT_TRUE(stage_->wait_until([](WorkerLinkRecord& r) { return r.become_replies.size() == 2; },
                                 "the second answer"));
  stage_->with([](WorkerLinkRecord& r) {
    EXPECT_FALSE(r.become_replies[1].ok);
    EXPECT_NE(r.become_replies[1].text.find("--isolation thread"), std::string::npos)
        << r.become_replies[1].text;
  });
  ASSERT_TRUE(stage_->wait_until([](WorkerLinkRecord& r) { return r.results.size() == 1; },
                                 "the service's own result"));
  stage_->with([](WorkerLinkRecord& r) { EXPECT_EQ(r.results[0].status, Status::kOk); });
}

}  // namespace
}  // namespace uni::test
