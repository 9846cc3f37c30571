// Publishing tasks through a 3-node cluster while the stream's leader is
// killed with SIGKILL: publishes fail with "no responders" during
// the election and are retried with their message ids, so every batch is
// stored exactly once (the stream's last sequence equals the batches sent),
// and a worker connected to the killed node fails over and receives every
// task (duplicate deliveries are allowed, and removed by task id).
#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>

#include "nats/client/async_publisher.hpp"
#include "nats/client/error.hpp"
#include "nats/store/task_consumer.hpp"
#include "nats_server.hpp"
#include "nats_test_util.hpp"

namespace uni::nats {
namespace {

using namespace std::chrono_literals;
using testing::eventually;
using testing::make_tasks;
using testing::pointers;

const std::string kPlatform = "x86_64-linux-libstdc++-cxx11";

// Kills the stream's leader once `published` reaches `at`; returns its index.
int kill_leader_when(test::NatsCluster& nats, const std::string& stream,
                     const std::atomic<int>& published, int at) {
  int leader = nats.wait_stream_leader(stream);
  while (published.load() < at) std::this_thread::sleep_for(1ms);
  nats.node(leader).kill();
  return leader;
}

TEST(LeaderFailover, SyncPublishesAndAWorkerRideOutTheLeadersDeath) {
  test::NatsCluster nats(3);
  nats.wait_jetstream_ready();
  Names names;
  Connection admin = Connection::connect({.address = nats.address()});
  JetStream admin_js(admin);
  TaskQueue setup = TaskQueue::open(admin_js, names, kPlatform, {.replicas = 3});
  int leader = nats.wait_stream_leader(setup.stream());

  // Boss and worker both start on the node that will die.
  std::string address = nats.address_starting_at(leader);
  Connection boss = Connection::connect({.address = address, .ordered_servers = true});
  JetStream boss_js(boss);
  TaskQueue queue = TaskQueue::open(boss_js, names, kPlatform, {.replicas = 3});
  Connection worker = Connection::connect({.address = address, .ordered_servers = true});
  JetStream worker_js(worker);
  TaskQueue worker_queue = TaskQueue::open(worker_js, names, kPlatform, {.replicas = 3});
  TaskConsumer consumer = TaskConsumer::bind(worker_queue, names, {.ack_wait = 5s});

  constexpr int kBatches = 300, kPerBatch = 20;
  std::atomic<int> published{0};
  std::atomic<int> retried{0};
  std::string publish_error;
  std::thread publisher([&] {
    try {
      for (int b = 0; b < kBatches; ++b) {
        std::vector<proto::Task> batch =
            make_tasks(0xb0, 1 + static_cast<std::uint64_t>(b) * kPerBatch, kPerBatch);
        PublishAck ack = queue.publish(pointers(batch), {.retry_for = 60s});
        if (ack.attempts > 1) ++retried;
        ++published;
      }
    } catch (const std::exception& e) {
      publish_error = e.what();
    }
  });

  std::set<std::uint64_t> seqs_seen, stream_seqs;
  std::uint64_t deliveries = 0, fetch_errors = 0;
  int killed = -1;
  std::thread killer(
      [&] { killed = kill_leader_when(nats, setup.stream(), published, kBatches / 3); });
  auto deadline = std::chrono::steady_clock::now() + 120s;
  while (seqs_seen.size() < kBatches * kPerBatch && std::chrono::steady_clock::now() < deadline) {
    try {
      for (TaskDelivery& delivery : consumer.fetch(50, 1s)) {
        ++deliveries;
        stream_seqs.insert(delivery.info().stream_seq);
        for (const proto::Task& task : delivery.tasks()) seqs_seen.insert(task.id.seq);
        delivery.ack();
      }
    } catch (const NatsError& e) {
      ++fetch_errors;  // the worker's server died under it: ask again
    }
  }
  killer.join();
  publisher.join();
  ASSERT_EQ(publish_error, "") << nats.logs();
  EXPECT_EQ(published.load(), kBatches);
  EXPECT_EQ(seqs_seen.size(), static_cast<std::size_t>(kBatches * kPerBatch))
      << "tasks lost; fetch errors " << fetch_errors;
  EXPECT_EQ(*seqs_seen.begin(), 1u);
  EXPECT_EQ(*seqs_seen.rbegin(), static_cast<std::uint64_t>(kBatches * kPerBatch));
  // Stored once each, retries and all: one stream sequence per batch.
  EXPECT_EQ(stream_seqs.size(), static_cast<std::size_t>(kBatches));
  std::optional<StreamState> state;
  ASSERT_TRUE(eventually(
      [&] {
        try {
          state = admin_js.stream_state(setup.stream());
          return state.has_value();
        } catch (const NatsError&) {
          return false;
        }
      },
      30s));
  EXPECT_EQ(state->last_seq, static_cast<std::uint64_t>(kBatches));
  EXPECT_GE(worker.reconnects(), 1u);
  // The killed node comes back on its ports and store and rejoins: the
  // cluster answers on every node and the stream has a leader.
  ASSERT_GE(killed, 0);
  nats.node(killed).restart();
  nats.wait_jetstream_ready();
  EXPECT_GE(nats.wait_stream_leader(setup.stream()), 0);
  std::printf("[ info ] %d publishes retried, %llu deliveries for %d batches, %llu fetch errors\n",
              retried.load(), static_cast<unsigned long long>(deliveries), kBatches,
              static_cast<unsigned long long>(fetch_errors));
}

TEST(LeaderFailover, AsyncPublishesAreAllStoredOnce) {
  test::NatsCluster nats(3);
  nats.wait_jetstream_ready();
  Names names;
  Connection admin = Connection::connect({.address = nats.address()});
  JetStream admin_js(admin);
  TaskQueue queue = TaskQueue::open(admin_js, names, kPlatform, {.replicas = 3});
  int leader = nats.wait_stream_leader(queue.stream());

  Connection boss =
      Connection::connect({.address = nats.address_starting_at(leader), .ordered_servers = true});
  AsyncPublisher publisher(boss, {.max_pending = 256, .ack_timeout = 2s, .retry_for = 60s});
  constexpr int kBatches = 3000;
  std::atomic<int> published{0};
  std::thread killer([&] { kill_leader_when(nats, queue.stream(), published, kBatches / 3); });
  std::size_t republished = 0;
  std::string error;
  try {
    for (int b = 0; b < kBatches; ++b) {
      std::vector<proto::Task> batch = make_tasks(0xa5, 1 + static_cast<std::uint64_t>(b) * 10, 10);
      std::string id = TaskQueue::batch_id(pointers(batch));
      while (true) {
        try {
          publisher.publish(queue.subject(), proto::encode_tasks(pointers(batch)), id);
          break;
        } catch (const NatsError& e) {
          // Max pending reached while the cluster elects: wait for room.
          if (!is_transient(e)) throw;
          std::this_thread::sleep_for(50ms);
        }
      }
      ++published;
    }
    republished = publisher.finish();
  } catch (const std::exception& e) {
    error = e.what();
  }
  killer.join();
  ASSERT_EQ(error, "") << nats.logs();
  std::optional<StreamState> state;
  ASSERT_TRUE(eventually(
      [&] {
        try {
          state = admin_js.stream_state(queue.stream());
          return state.has_value();
        } catch (const NatsError&) {
          return false;
        }
      },
      30s));
  EXPECT_EQ(state->messages, static_cast<std::uint64_t>(kBatches));
  EXPECT_EQ(state->last_seq, static_cast<std::uint64_t>(kBatches));
  std::printf("[ info ] %zu async publishes republished\n", republished);
}

}  // namespace
}  // namespace uni::nats
