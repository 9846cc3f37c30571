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
  // Messages go to "<subject>[.<owner>].<session>.<count>", put back by a
  // worker to "<subject>.<owner>.<session>.<count>.requeued"; the bare
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
  return js_->publish(subject_for(tasks.front()->id.session, tasks.size()),
                      proto::encode_tasks(tasks), options);
}

std::uint64_t TaskQueue::depth() {
  std::optional<StreamState> state = js_->stream_state(stream_);
  return state ? state->messages : 0;
}

std::optional<std::uint64_t> TaskQueue::count_tasks(JetStream& js, const std::string& stream,
                                                    const std::string& filter) {
  jsOptions opts;
  jsOptions_Init(&opts);
  opts.Wait = js.api_timeout().count();
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
      // The count is the last token but ".requeued":
      // "<subject>[.<owner>].<session>.<count>[.requeued]", or
      // "<subject>.<count>" from an older uni.
      std::string_view count(s.Subject);
      if (count.ends_with(".requeued")) count.remove_suffix(std::string_view(".requeued").size());
      count.remove_prefix(count.rfind('.') + 1);
      std::uint64_t per_message = 0;
      auto [end, error] = std::from_chars(count.data(), count.data() + count.size(), per_message);
      if (error != std::errc() || end != count.data() + count.size() || per_message == 0)
        per_message = 1;  // not uni's: one task, as we cannot tell
      total += per_message * s.Msgs;
      counted_messages += s.Msgs;
    }
  }
  // The rest are on the bare subject: one task each (counted only when all
  // the stream's messages were asked for).
  if (filter.size() > 2 && filter.compare(filter.size() - 2, 2, ".>") == 0 &&
      info->State.Msgs > counted_messages)
    total += info->State.Msgs - counted_messages;
  return total;
}

std::optional<std::vector<proto::TaskId>> TaskQueue::session_tasks(std::uint64_t session) {
  std::vector<proto::TaskId> out;
  const std::string filter = names_.task_session_subjects(platform_, owner_, session);
  for (std::uint64_t seq = 1;;) {
    std::optional<JetStream::Stored> message;
    try {
      message = js_->next_stored(stream_, filter, seq);
    } catch (const NatsError& e) {
      if (e.js_code() == JSStreamNotFoundErr) return std::nullopt;
      throw;
    }
    if (!message) break;
    seq = message->sequence + 1;
    try {
      for (const proto::Task& task : decode_task_batch(message->data)) out.push_back(task.id);
    } catch (const proto::DecodeError&) {
      // Not a batch of tasks: the workers term it; nothing of this session.
    }
  }
  return out;
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
