// TaskQueue: the work-queue stream of a platform and batched, deduplicated publishing.
#include "nats/task_queue.hpp"

#include "nats/error.hpp"

namespace uni::nats {

TaskQueue TaskQueue::open(JetStream& js, const Names& names, const std::string& platform,
                          const TaskQueueConfig& config) {
  StreamConfig stream;
  stream.name = names.task_stream(platform);
  stream.description = "uni tasks for platform " + platform;
  stream.subjects = {names.task_subject(platform)};
  stream.retention = Retention::kWorkQueue;
  stream.replicas = config.replicas;
  stream.max_msgs = config.max_messages;
  stream.max_bytes = config.max_bytes;
  stream.discard_new = true;
  stream.duplicate_window = config.duplicate_window;
  js.ensure_stream(stream);
  return TaskQueue(js, platform, stream.name, stream.subjects.front());
}

std::string TaskQueue::batch_id(const std::vector<const proto::Task*>& tasks) {
  if (tasks.empty()) return "";
  return tasks.front()->id.str() + "-" + std::to_string(tasks.size());
}

PublishAck TaskQueue::publish(const std::vector<const proto::Task*>& tasks,
                              PublishOptions options) {
  if (tasks.empty()) throw std::invalid_argument("publishing an empty batch of tasks");
  if (options.msg_id.empty()) options.msg_id = batch_id(tasks);
  return js_->publish(subject_, proto::encode_tasks(tasks), options);
}

std::uint64_t TaskQueue::depth() {
  std::optional<StreamState> state = js_->stream_state(stream_);
  return state ? state->messages : 0;
}

std::optional<std::vector<proto::Task>> TaskQueue::read(std::uint64_t stream_sequence) {
  std::optional<Message> message = js_->message(stream_, stream_sequence);
  if (!message) return std::nullopt;
  return decode_task_batch(message->data());
}

bool TaskQueue::remove(std::uint64_t stream_sequence) {
  try {
    js_->delete_message(stream_, stream_sequence);
    return true;
  } catch (const NatsError& e) {
    // Gone already: another worker handled the same advisory, or it was acked.
    if (e.kind() == FailureKind::kNotFound || e.js_code() == JSSequenceNotFoundErr ||
        e.js_code() == JSStreamMsgDeleteFailed)
      return false;
    throw;
  }
}

std::vector<proto::Task> decode_task_batch(std::string_view data) {
  proto::Message message = proto::Message::parse(data.data(), data.size());
  if (message.type() != proto::Type::kTasks)
    throw proto::DecodeError(std::string("expected a TASKS message, got ") +
                             proto::type_name(message.type()));
  return message.tasks();
}

}  // namespace uni::nats
