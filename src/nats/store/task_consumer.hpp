// The pull consumer of a platform's task queue, shared by all its workers: a
// worker fetches a few messages (batches of tasks), and for each acks it when
// its tasks are done, sends in-progress while a long task runs (or ack-wait
// redelivers it to another worker: that is how a dead worker is noticed),
// naks it to give it back, or terms it (poison). A work-queue stream allows
// one consumer per subject and only explicit acks (no AckAll), hence one
// durable consumer for all workers.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "nats/client/connection.hpp"
#include "nats/store/task_queue.hpp"

namespace uni::nats {

struct TaskConsumerConfig {
  // A batch not acked (nor marked in progress) within this time goes to
  // another worker: the bound on how long a dead worker's tasks wait.
  std::chrono::milliseconds ack_wait{30000};
  // Deliveries of one message before the server gives up on it. Per-task
  // attempt limits (proto::Task::max_attempts) are checked by the worker
  // against TaskDelivery::attempt(); this is the ceiling above them.
  int max_deliver = 10;
  // Unacked messages across all workers; the server's default of 1000 would
  // cap the tasks in flight of the whole cluster.
  int max_ack_pending = 65536;
};

class TaskDelivery {
 public:
  TaskDelivery(Message message, std::vector<proto::Task> tasks, DeliveryInfo info, int max_deliver);

  // The tasks, each with `attempt` set to this delivery's number (1, 2, ...)
  // plus the attempts a requeued task had before.
  const std::vector<proto::Task>& tasks() const { return tasks_; }
  const DeliveryInfo& info() const { return info_; }
  // The message's subject: it names the owner of its tasks (Names::task_owner).
  std::string_view subject() const { return message_.subject(); }
  std::uint64_t attempt() const { return info_.delivered; }
  // The server will not deliver this message again: ack or term it now, or
  // it ends in the exhausted advisories (ExhaustedTasks).
  bool last_delivery() const { return info_.delivered >= static_cast<std::uint64_t>(max_deliver_); }

  void ack() { message_.ack(); }
  void ack_sync() { message_.ack_sync(); }
  void nak(std::chrono::milliseconds delay = std::chrono::milliseconds(0)) { message_.nak(delay); }
  void in_progress() { message_.in_progress(); }
  void term() { message_.term(); }

 private:
  Message message_;
  std::vector<proto::Task> tasks_;
  DeliveryInfo info_;
  int max_deliver_;
};

// fetch() from one thread at a time; a TaskDelivery may be acked from any.
class TaskConsumer {
 public:
  // Creates the durable consumer (or brings it to `config`) and binds a pull
  // subscription to it. Throws NatsError.
  static TaskConsumer bind(TaskQueue& queue, const Names& names,
                           const TaskConsumerConfig& config = {});

  // Up to `max_messages` batches, waiting at most `wait` for the first; empty
  // if none. A message that is not a TASKS message is termed and logged
  // (it can never run), not returned.
  std::vector<TaskDelivery> fetch(int max_messages, std::chrono::milliseconds wait);

  std::uint64_t malformed() const { return malformed_; }
  const TaskConsumerConfig& config() const { return config_; }

 private:
  TaskConsumer(Subscription subscription, TaskConsumerConfig config)
      : subscription_(std::move(subscription)), config_(config) {}
  Subscription subscription_;
  TaskConsumerConfig config_;
  std::uint64_t malformed_ = 0;
};

}  // namespace uni::nats
