// TaskQueue: the work-queue stream of a platform and batched, deduplicated publishing.
#include "nats/store/task_queue.hpp"

#include <charconv>

#include "nats/client/error.hpp"

namespace uni::nats {

TaskQueue TaskQueue::open(JetStream& js, const Names& names, const std::string& platform,
                          const TaskQueueConfig& config) {
  StreamConfig stream;
  stream.name = names.task_stream(platform);
  stream.description = "uni tasks for platform " + platform;
  // Messages go to "<subject>.<count>", "<subject>.<owner>.<count>" or
  // (put back by a worker) "<subject>.<owner>.<count>.requeued"; the bare
  // subject stays for messages of an older uni, and is the one workers
  // subscribe with.
  stream.subjects = {names.task_subject(platform), names.task_subject(platform) + ".>"};
  stream.retention = Retention::kWorkQueue;
  stream.replicas = config.replicas;
  stream.max_msgs = config.max_messages;
  stream.max_bytes = config.max_bytes;
  stream.discard_new = true;
  stream.duplicate_window = config.duplicate_window;
  js.ensure_stream(stream);
  return TaskQueue(js, names, platform, stream.name, stream.subjects.front());
}

std::string TaskQueue::batch_id(const std::vector<const proto::Task*>& tasks) {
  if (tasks.empty()) return "";
  return tasks.front()->id.str() + "-" + std::to_string(tasks.size());
}

PublishAck TaskQueue::publish(const std::vector<const proto::Task*>& tasks,
                              PublishOptions options) {
  if (tasks.empty()) throw std::invalid_argument("publishing an empty batch of tasks");
  if (options.msg_id.empty()) options.msg_id = batch_id(tasks);
  return js_->publish(subject_for(tasks.size()), proto::encode_tasks(tasks), options);
}

std::uint64_t TaskQueue::depth() {
  std::optional<StreamState> state = js_->stream_state(stream_);
  return state ? state->messages : 0;
}

std::optional<std::uint64_t> TaskQueue::count_tasks(JetStream& js, const std::string& stream,
                                                    const std::string& subject) {
  jsOptions opts;
  jsOptions_Init(&opts);
  opts.Wait = js.api_timeout().count();
  std::string filter = subject + ".>";
  opts.Stream.Info.SubjectsFilter = filter.c_str();
  jsStreamInfo* raw = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus status = js_GetStreamInfo(&raw, js.get(), stream.c_str(), &opts, &code);
  if (status == NATS_NOT_FOUND || code == JSStreamNotFoundErr) return std::nullopt;
  check(status, "reading the subjects of stream " + stream, code);
  StreamInfoHandle info(raw);
  std::uint64_t total = 0, counted_messages = 0;
  if (const jsStreamStateSubjects* subjects = info->State.Subjects) {
    for (int i = 0; i < subjects->Count; ++i) {
      const jsStreamStateSubject& s = subjects->List[i];
      // "<count>", "<owner>.<count>" or "<owner>.<count>.requeued".
      std::string_view count(s.Subject);
      count.remove_prefix(std::min(count.size(), subject.size() + 1));
      if (std::size_t dot = count.find('.'); dot != std::string_view::npos) {
        count.remove_prefix(dot + 1);
        count = count.substr(0, count.find('.'));
      }
      std::uint64_t per_message = 0;
      auto [end, error] = std::from_chars(count.data(), count.data() + count.size(), per_message);
      if (error != std::errc() || end != count.data() + count.size() || per_message == 0)
        per_message = 1;  // not uni's: one task, as we cannot tell
      total += per_message * s.Msgs;
      counted_messages += s.Msgs;
    }
  }
  // The rest are on the bare subject: one task each.
  if (info->State.Msgs > counted_messages) total += info->State.Msgs - counted_messages;
  return total;
}

std::optional<std::vector<proto::Task>> TaskQueue::read(std::uint64_t stream_sequence,
                                                        std::string* owner) {
  std::optional<Message> message = js_->message(stream_, stream_sequence);
  if (!message) return std::nullopt;
  if (owner != nullptr) *owner = names_.task_owner(platform_, message->subject());
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
