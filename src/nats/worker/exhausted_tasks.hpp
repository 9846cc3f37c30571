// Batches whose deliveries ran out. When a message reaches the consumer's
// max-deliver without an ack (its last worker died too), the server stops
// delivering it but leaves it in the work-queue stream for ever, and says so
// only in an advisory. A stream of the platform captures those advisories, so
// none is lost while no worker listens; any worker takes one, removes the
// batch from the task queue and fails its tasks (poison), then marks it done.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "nats/store/result_stream.hpp"
#include "nats/store/task_consumer.hpp"

namespace uni::nats {

// One exhausted batch. The caller fails its tasks (publishes their results),
// then calls done(), which removes the batch from the task queue and acks the
// advisory: a worker that dies in between leaves the advisory to another, who
// fails the same tasks again (results are deduplicated by task id).
class ExhaustedBatch {
 public:
  ExhaustedBatch(TaskQueue& queue, Message advisory, std::uint64_t stream_seq,
                 std::uint64_t deliveries, std::vector<proto::Task> tasks, std::string owner)
      : queue_(&queue),
        advisory_(std::move(advisory)),
        stream_seq_(stream_seq),
        deliveries_(deliveries),
        tasks_(std::move(tasks)),
        owner_(std::move(owner)) {}

  // Empty if the batch left the queue already (acked late, or done elsewhere).
  const std::vector<proto::Task>& tasks() const { return tasks_; }
  std::uint64_t stream_seq() const { return stream_seq_; }
  std::uint64_t deliveries() const { return deliveries_; }
  // The identity that submitted the tasks ("" for none): their results go
  // to its subjects.
  const std::string& owner() const { return owner_; }
  void done();

 private:
  TaskQueue* queue_;
  Message advisory_;
  std::uint64_t stream_seq_, deliveries_;
  std::vector<proto::Task> tasks_;
  std::string owner_;
};

class ExhaustedTasks {
 public:
  // Creates the advisory stream of the queue's platform and its consumer.
  static ExhaustedTasks open(TaskQueue& queue, const Names& names, int replicas = 1);

  // The next exhausted batch, or nullopt if none came within `wait`.
  std::optional<ExhaustedBatch> next(std::chrono::milliseconds wait);
  // Fails the tasks of every exhausted batch there is now (status crashed,
  // stored in `results` under `worker` and `host`) and marks each done.
  // Throws NatsError; a batch not marked done is another worker's to fail.
  void fail_waiting(ResultStream& results, const std::string& worker, const std::string& host);

 private:
  ExhaustedTasks(TaskQueue& queue, Subscription subscription)
      : queue_(&queue), subscription_(std::move(subscription)) {}
  TaskQueue* queue_;
  Subscription subscription_;
};

}  // namespace uni::nats
