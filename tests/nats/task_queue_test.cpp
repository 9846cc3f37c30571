// The task queue and the workers' shared consumer on a real nats-server:
// batches round-trip and leave the work-queue stream when acked; a batch
// published twice is stored once; a worker that dies without acking has its
// batch redelivered after ack-wait (attempt 2); in-progress keeps a long task
// from being redelivered; the last delivery of a poison batch is flagged, and
// one nobody acked reaches the exhausted sweeper; garbage in the stream is
// termed, not returned; a full queue refuses new tasks; processes that
// create it at the same time all open it.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "nats/client/error.hpp"
#include "nats/store/task_consumer.hpp"
#include "nats/worker/exhausted_tasks.hpp"
#include "nats_server.hpp"
#include "nats_test_util.hpp"

namespace uni::nats {
namespace {

using namespace std::chrono_literals;
using testing::eventually;
using testing::make_tasks;
using testing::pointers;

const std::string kPlatform = "x86_64-linux-libstdc++-cxx11";

struct Fixture {
  test::NatsCluster nats;
  Names names;
  Connection connection = Connection::connect({.address = nats.address()});
  JetStream js{connection};
  TaskQueue queue = TaskQueue::open(js, names, kPlatform);
};

// A worker: its own connection, as a separate process would have.
struct Worker {
  Worker(const std::string& address, TaskQueue& shared, const TaskConsumerConfig& config)
      : connection(Connection::connect({.address = address})),
        js(connection),
        queue(TaskQueue::open(js, Names(), shared.platform())),
        consumer(TaskConsumer::bind(queue, Names(), config)) {}
  Connection connection;
  JetStream js;
  TaskQueue queue;
  TaskConsumer consumer;
};

// Workers that start together all open the queue: the server can answer one
// of two simultaneous creations of a stream "subjects overlap" (with itself),
// and a worker took that for a broken cluster and exited.
TEST(TaskQueue, ProcessesThatCreateItAtTheSameTimeAllOpenIt) {
  test::NatsCluster nats;
  constexpr int kOpeners = 6;
  std::vector<Connection> connections;
  for (int i = 0; i < kOpeners; ++i)
    connections.push_back(Connection::connect({.address = nats.address()}));
  for (int round = 0; round < 5; ++round) {
    const std::string platform = "race-" + std::to_string(round);
    std::atomic<int> ready = 0, failed = 0;
    std::vector<std::thread> openers;
    for (int i = 0; i < kOpeners; ++i)
      openers.emplace_back([&, i] {
        JetStream js(connections[i]);
        ready.fetch_add(1);
        while (ready.load() < kOpeners) std::this_thread::yield();
        try {
          TaskQueue::open(js, Names(), platform);
        } catch (const NatsError& e) {
          ADD_FAILURE() << "round " << round << ": " << e.what();
          failed.fetch_add(1);
        }
      });
    for (std::thread& t : openers) t.join();
    ASSERT_EQ(failed.load(), 0);
  }
}

TEST(TaskQueue, BatchesRoundTripAndLeaveTheStreamWhenAcked) {
  Fixture f;
  EXPECT_EQ(f.queue.stream(), "UNI_TASKS_" + kPlatform);
  std::vector<std::vector<proto::Task>> batches = {make_tasks(7, 1, 10), make_tasks(7, 11, 10),
                                                   make_tasks(7, 21, 10)};
  for (auto& batch : batches) {
    PublishAck ack = f.queue.publish(pointers(batch));
    EXPECT_FALSE(ack.duplicate);
  }
  EXPECT_EQ(f.queue.depth(), 3u);
  TaskConsumer consumer = TaskConsumer::bind(f.queue, f.names);
  std::vector<TaskDelivery> got = consumer.fetch(5, 5s);
  ASSERT_EQ(got.size(), 3u);
  for (std::size_t i = 0; i < got.size(); ++i) {
    ASSERT_EQ(got[i].tasks().size(), 10u);
    EXPECT_EQ(got[i].tasks()[0].id, batches[i][0].id);
    EXPECT_EQ(got[i].tasks()[9].args, batches[i][9].args);
    EXPECT_EQ(got[i].attempt(), 1u);
    EXPECT_EQ(got[i].tasks()[0].attempt, 1);
    got[i].ack_sync();
  }
  EXPECT_EQ(f.queue.depth(), 0u);
}

TEST(TaskQueue, ABatchPublishedTwiceIsStoredOnce) {
  Fixture f;
  std::vector<proto::Task> batch = make_tasks(9, 1, 5);
  EXPECT_FALSE(f.queue.publish(pointers(batch)).duplicate);
  EXPECT_TRUE(f.queue.publish(pointers(batch)).duplicate);
  EXPECT_EQ(f.queue.depth(), 1u);
}

TEST(TaskQueue, ADeadWorkersBatchIsRedeliveredAfterAckWait) {
  Fixture f;
  std::vector<proto::Task> batch = make_tasks(3, 1, 4);
  f.queue.publish(pointers(batch));
  TaskConsumerConfig config{.ack_wait = 1s};
  {
    Worker doomed(f.nats.address(), f.queue, config);
    std::vector<TaskDelivery> got = doomed.consumer.fetch(1, 5s);
    ASSERT_EQ(got.size(), 1u);
  }  // the worker and its connection are gone without an ack
  Worker survivor(f.nats.address(), f.queue, config);
  std::vector<TaskDelivery> again = survivor.consumer.fetch(1, 10s);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].attempt(), 2u);
  EXPECT_EQ(again[0].tasks()[0].attempt, 2);
  EXPECT_EQ(again[0].tasks()[3].id, batch[3].id);
  again[0].ack_sync();
  EXPECT_EQ(f.queue.depth(), 0u);
}

TEST(TaskQueue, InProgressKeepsALongTaskFromBeingRedelivered) {
  Fixture f;
  f.queue.publish(pointers(make_tasks(4, 1, 1)));
  TaskConsumerConfig config{.ack_wait = 1s};
  Worker busy(f.nats.address(), f.queue, config);
  Worker idle(f.nats.address(), f.queue, config);
  std::vector<TaskDelivery> got = busy.consumer.fetch(1, 5s);
  ASSERT_EQ(got.size(), 1u);
  // The task "runs" for three ack-waits, reporting progress every 250 ms;
  // meanwhile the idle worker keeps asking for work and must get none.
  std::atomic<bool> running{true};
  std::thread progress([&] {
    while (running) {
      got[0].in_progress();
      std::this_thread::sleep_for(250ms);
    }
  });
  std::vector<TaskDelivery> stolen = idle.consumer.fetch(1, 3s);
  running = false;
  progress.join();
  EXPECT_TRUE(stolen.empty()) << "redelivered while in progress (attempt "
                              << (stolen.empty() ? 0 : stolen[0].attempt()) << ")";
  got[0].ack_sync();
  EXPECT_EQ(f.queue.depth(), 0u);
}

TEST(TaskQueue, TheLastDeliveryIsFlaggedAndATermEndsIt) {
  Fixture f;
  f.queue.publish(pointers(make_tasks(5, 1, 2)));
  TaskConsumer consumer =
      TaskConsumer::bind(f.queue, f.names, {.ack_wait = 500ms, .max_deliver = 2});
  std::vector<TaskDelivery> first = consumer.fetch(1, 5s);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_FALSE(first[0].last_delivery());
  first[0].nak();
  std::vector<TaskDelivery> second = consumer.fetch(1, 5s);
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].attempt(), 2u);
  EXPECT_TRUE(second[0].last_delivery());
  second[0].term();  // the worker fails the tasks as poison and ends the message
  EXPECT_TRUE(eventually([&] { return f.queue.depth() == 0; }));
}

TEST(TaskQueue, ABatchNobodyAckedReachesTheExhaustedSweeper) {
  Fixture f;
  std::vector<proto::Task> batch = make_tasks(6, 1, 3);
  f.queue.publish(pointers(batch));
  ExhaustedTasks sweeper = ExhaustedTasks::open(f.queue, f.names);
  TaskConsumer consumer =
      TaskConsumer::bind(f.queue, f.names, {.ack_wait = 500ms, .max_deliver = 2});
  // Two workers take it and die (no ack, no term): the server stops
  // delivering it but keeps it in the work-queue stream.
  ASSERT_EQ(consumer.fetch(1, 5s).size(), 1u);
  ASSERT_EQ(consumer.fetch(1, 5s).size(), 1u);
  EXPECT_TRUE(consumer.fetch(1, 2s).empty());
  EXPECT_EQ(f.queue.depth(), 1u);
  std::optional<ExhaustedBatch> exhausted = sweeper.next(10s);
  ASSERT_TRUE(exhausted);
  EXPECT_EQ(exhausted->deliveries(), 2u);
  ASSERT_EQ(exhausted->tasks().size(), 3u);
  EXPECT_EQ(exhausted->tasks()[2].id, batch[2].id);
  exhausted->done();
  EXPECT_EQ(f.queue.depth(), 0u);
  EXPECT_FALSE(sweeper.next(1s));
}

TEST(TaskQueue, GarbageInTheStreamIsTermedNotReturned) {
  Fixture f;
  f.js.publish(f.queue.subject(), "not msgpack at all");
  f.queue.publish(pointers(make_tasks(8, 1, 1)));
  TaskConsumer consumer = TaskConsumer::bind(f.queue, f.names);
  std::vector<TaskDelivery> got = consumer.fetch(5, 5s);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(consumer.malformed(), 1u);
  got[0].ack_sync();
  EXPECT_TRUE(eventually([&] { return f.queue.depth() == 0; }));
}

TEST(TaskQueue, AFullQueueRefusesNewTasks) {
  test::NatsCluster nats;
  Connection connection = Connection::connect({.address = nats.address()});
  JetStream js(connection);
  TaskQueue queue = TaskQueue::open(js, Names(), kPlatform, {.max_messages = 2});
  queue.publish(pointers(make_tasks(1, 1, 1)));
  queue.publish(pointers(make_tasks(1, 2, 1)));
  try {
    queue.publish(pointers(make_tasks(1, 3, 1)));
    ADD_FAILURE() << "a third batch was accepted";
  } catch (const NatsError& e) {
    EXPECT_NE(std::string(e.what()).find("maximum messages"), std::string::npos) << e.what();
  }
  EXPECT_EQ(queue.depth(), 2u);
}

}  // namespace
}  // namespace uni::nats
