// The task queue of one platform on JetStream: a work-queue stream (a message
// leaves it when a worker acks it), several tasks to a message (a TASKS
// message of the protocol, proto::encode_tasks), each message with an id so a
// publish retried across a leader election is stored once. Workers read it
// through TaskConsumer; its depth is the queue length `uni status` shows.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "nats/client/jetstream.hpp"
#include "nats/store/names.hpp"
#include "proto/messages.hpp"

namespace uni::nats {

struct TaskQueueConfig {
  int replicas = 1;  // 3 for a queue that survives a node
  // Backpressure: past either limit a publish is refused ("maximum messages
  // exceeded") instead of old tasks being dropped; -1: no limit.
  std::int64_t max_messages = -1;
  std::int64_t max_bytes = -1;
  // A republished batch with the same id within this window is stored once.
  std::chrono::milliseconds duplicate_window{120000};
};

class TaskQueue {
 public:
  // Creates the platform's stream, or brings it to `config`. Throws NatsError.
  static TaskQueue open(JetStream& js, const Names& names, const std::string& platform,
                        const TaskQueueConfig& config = {});
  // A handle on the platform's stream as it is (not created, its settings
  // left alone).
  static TaskQueue bind(JetStream& js, const Names& names, const std::string& platform) {
    return TaskQueue(js, names, platform, names.task_stream(platform),
                     names.task_subject(platform));
  }

  // Publishes one batch as one message; retries transient failures (see
  // PublishOptions). options.msg_id empty: batch_id(tasks) is used. The
  // tasks are of one session (the first task's).
  PublishAck publish(const std::vector<const proto::Task*>& tasks, PublishOptions options = {});
  // "<session>-<first seq>-<count>": the same batch always gets the same id.
  static std::string batch_id(const std::vector<const proto::Task*>& tasks);

  std::uint64_t depth();  // messages (batches) waiting or in flight
  // Tasks in those messages, summed from the stream's per-subject counts
  // (a message of n tasks is on subject_for(session, n); one on the bare
  // subject, from an older uni, counts as one). nullopt if the stream is gone.
  std::optional<std::uint64_t> tasks() { return count_tasks(*js_, stream_, subject_ + ".>"); }
  // The same for any task stream, without creating or changing it, for the
  // messages on `filter` (the queue's subject + ".>" for all of them).
  static std::optional<std::uint64_t> count_tasks(JetStream& js, const std::string& stream,
                                                  const std::string& filter);
  // The tasks of one boss session in the stream now (waiting, or held by a
  // worker: a message stays until acked), read message by message in stream
  // order, so that a task queued again (its new message stored before the
  // old one is acked) is seen once at least. nullopt if the stream is gone.
  std::optional<std::vector<proto::TaskId>> session_tasks(std::uint64_t session);

  // A stored batch by its stream sequence, for one whose deliveries are
  // exhausted (see ExhaustedTasks), and the owner its subject names;
  // nullopt if it is gone. Throws
  // proto::DecodeError if it is not a batch of tasks.
  std::optional<std::vector<proto::Task>> read(std::uint64_t stream_sequence,
                                               std::string* owner = nullptr);
  // Removes it; false if it was gone already.
  bool remove(std::uint64_t stream_sequence);

  JetStream& jetstream() const { return *js_; }
  const std::string& platform() const { return platform_; }
  const std::string& stream() const { return stream_; }
  const std::string& subject() const { return subject_; }
  // The subject of a message of `count` tasks of `session`, submitted by
  // this connection's identity (Names::task_subject).
  std::string subject_for(std::uint64_t session, std::size_t count) const {
    return names_.task_subject(platform_, owner_, session, count);
  }
  // The identity this connection submits as ("" for none).
  const std::string& owner() const { return owner_; }
  // Where a worker puts back `count` tasks of `owner`'s `session`
  // (Names::requeue_subject).
  std::string requeue_subject_for(const std::string& owner, std::uint64_t session,
                                  std::size_t count) const {
    return names_.requeue_subject(platform_, owner, session, count);
  }

 private:
  TaskQueue(JetStream& js, const Names& names, std::string platform, std::string stream,
            std::string subject)
      : js_(&js),
        names_(names),
        platform_(std::move(platform)),
        stream_(std::move(stream)),
        subject_(std::move(subject)),
        owner_(js.connection().identity()) {}
  JetStream* js_;
  Names names_;
  std::string platform_, stream_, subject_, owner_;
};

// Decodes a TASKS message. Throws proto::DecodeError saying what is wrong.
std::vector<proto::Task> decode_task_batch(std::string_view data);

}  // namespace uni::nats
