// The worker's link to NATS as the supervisor sees it, on a real nats-server:
// a task given back (or crashed) is queued again and may come straight back
// to the same worker; the link must tell the supervisor to forget the old
// copy before it gives the new one, or the supervisor drops the new one as a
// duplicate and then forgets it, and the task never runs.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "nats/client/handles.hpp"
#include "nats/link/nats_worker_link.hpp"
#include "nats/store/task_consumer.hpp"
#include "nats/store/task_queue.hpp"
#include "nats_server.hpp"
#include "nats_test_util.hpp"

namespace uni::nats {
namespace {

using namespace std::chrono_literals;
using proto::TaskId;

const std::string kPlatform = "x86_64-linux-libstdc++-cxx11";

// What the link reported, in order: "tasks <id>" and "stored <id>" lines.
class RecordedEvents final : public broker::WorkerEvents {
 public:
  broker::WorkerAnnouncement announce() override { return {}; }
  void on_reconnected(const broker::BrokerInfo&) override {}
  void on_tasks(std::vector<proto::Task>& tasks) override {
    for (const proto::Task& t : tasks) seen.push_back("tasks " + t.id.str());
  }
  void on_module(proto::ModuleReply&) override {}
  void on_cancel(const std::vector<TaskId>&) override {}
  void on_results_stored(const std::vector<TaskId>& ids) override {
    for (const TaskId& id : ids) seen.push_back("stored " + id.str());
  }
  void on_become(const proto::BecomeRequest&) override {}
  void on_broker_leaving(const std::string&) override {}
  std::vector<std::string> seen;
};

// Messages of the workers' consumer not yet delivered, and delivered unacked.
std::pair<std::uint64_t, std::int64_t> consumer_counts(JetStream& js, const std::string& stream) {
  jsConsumerInfo* raw = nullptr;
  jsOptions opts;
  jsOptions_Init(&opts);
  jsErrCode code = static_cast<jsErrCode>(0);
  if (js_GetConsumerInfo(&raw, js.get(), stream.c_str(), Names().task_consumer().c_str(), &opts,
                         &code) != NATS_OK)
    return {~0ull, -1};
  ConsumerInfoHandle info(raw);
  return {info->NumPending, info->NumAckPending};
}

void process(NatsWorkerLink& link, RecordedEvents& events) {
  std::vector<broker::PollItem> items;
  link.add_poll_items(items);
  items[0].revents = broker::kPollIn;
  link.process(items.data(), events);
}

TEST(NatsWorkerLink, AGivenBackTaskThatComesBackIsForgottenBeforeItIsGivenAgain) {
  test::NatsCluster nats;
  NatsWorkerLink link(nats.address());
  broker::WorkerAnnouncement me;
  me.worker_id = "w1";
  me.host = "testhost";
  me.slots = 1;
  me.capacity = 4;
  me.platform = kPlatform;
  me.isolation = "thread";
  link.open(me, 4s);

  Connection boss = Connection::connect({.address = nats.address()});
  JetStream js(boss);
  TaskQueue queue = TaskQueue::open(js, Names(), kPlatform);
  std::vector<proto::Task> sent = testing::make_tasks(0xabc, 1, 1);
  queue.publish(testing::pointers(sent));
  const std::string id = sent[0].id.str();

  RecordedEvents events;
  ASSERT_TRUE(testing::eventually([&] {
    process(link, events);
    return !events.seen.empty();
  }));
  ASSERT_EQ(events.seen, std::vector<std::string>{"tasks " + id});

  // Given back unstarted (a draining or rebalancing supervisor): queued
  // again as a message of its own, which only this worker can take.
  proto::Result back;
  back.id = sent[0].id;
  back.status = proto::Status::kHandedBack;
  link.send_results({&back});
  // The supervisor does not look until the task is here again: its first
  // message is acked (the requeue is stored) and the new one delivered.
  ASSERT_TRUE(testing::eventually([&] {
    std::optional<StreamState> state = js.stream_state(queue.stream());
    return state && state->last_seq == 2 && state->messages == 1 &&
           consumer_counts(js, queue.stream()) == std::pair<std::uint64_t, std::int64_t>{0, 1};
  }));
  std::this_thread::sleep_for(300ms);  // from delivered to taken by the engine's thread
  process(link, events);

  std::vector<std::string> want = {"tasks " + id, "stored " + id, "tasks " + id};
  EXPECT_EQ(events.seen, want);
}

}  // namespace
}  // namespace uni::nats
