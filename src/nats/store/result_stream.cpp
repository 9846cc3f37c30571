// ResultStream: storing, following and looking up results per boss session.
#include "nats/store/result_stream.hpp"

#include "common/log.hpp"
#include "nats/client/subject_reader.hpp"

namespace uni::nats {

std::vector<proto::Result> decode_result_batch(std::string_view data) {
  proto::Message message = proto::Message::parse(data.data(), data.size());
  if (message.type() != proto::Type::kResult)
    throw proto::DecodeError(std::string("expected a RESULT message, got ") +
                             proto::type_name(message.type()));
  return message.results();
}

std::vector<proto::Result> ResultFeed::next(std::chrono::milliseconds wait) {
  auto deadline = std::chrono::steady_clock::now() + wait;
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    std::optional<Message> message =
        subscription_.next(std::max(left, std::chrono::milliseconds(1)));
    if (!message) return {};
    try {
      return decode_result_batch(message->data());
    } catch (const proto::DecodeError& e) {
      log::warn("NATS: a message on {} is not a batch of results ({}); skipped", message->subject(),
                e.what());
    }
    if (std::chrono::steady_clock::now() >= deadline) return {};
  }
}

ResultStream ResultStream::open(JetStream& js, const Names& names,
                                const ResultStreamConfig& config) {
  StreamConfig stream;
  stream.name = names.result_stream();
  stream.description = "uni results, one subject per boss session";
  stream.subjects = {names.result_subjects()};
  stream.retention = Retention::kLimits;
  stream.replicas = config.replicas;
  stream.max_age = config.max_age;
  stream.max_bytes = config.max_bytes;
  stream.duplicate_window = config.duplicate_window;
  stream.allow_direct = true;  // lookups served by any replica
  js.ensure_stream(stream);
  return ResultStream(js, names, stream.name);
}

PublishAck ResultStream::publish(std::uint64_t session,
                                 const std::vector<const proto::Result*>& results,
                                 const PublishOptions& options) {
  if (results.empty()) throw std::invalid_argument("publishing an empty batch of results");
  return publish(owner_, session, results, options);
}

PublishAck ResultStream::publish(const std::string& owner, std::uint64_t session,
                                 const std::vector<const proto::Result*>& results,
                                 const PublishOptions& options) {
  if (results.empty()) throw std::invalid_argument("publishing an empty batch of results");
  return js_->publish(names_.result_subject(owner, session), proto::encode_results(results),
                      options);
}

ResultFeed ResultStream::subscribe(std::uint64_t session) {
  ResultFeed feed(js_->connection().subscribe(names_.result_subject(owner_, session)));
  // The subscription is known to the server once the flush returns: a result
  // published after this call reaches it.
  js_->connection().flush();
  return feed;
}

std::vector<StoredResults> ResultStream::read(std::uint64_t session, std::uint64_t from) {
  std::vector<StoredResults> out;
  std::string subject = names_.result_subject(owner_, session);
  if (!owner_.empty()) {
    // A direct get names its subject in the request body, which permissions
    // cannot see: an identity reads through a consumer that names it.
    for (SubjectRead& read :
         read_subject(js_->connection(), stream_, subject, from, js_->api_timeout())) {
      StoredResults stored;
      stored.stream_seq = read.stream_seq;
      try {
        stored.results = decode_result_batch(read.message.data());
        out.push_back(std::move(stored));
      } catch (const proto::DecodeError& e) {
        log::warn("NATS: stored message {} of {} is not a batch of results ({}); skipped",
                  stored.stream_seq, stream_, e.what());
      }
    }
    return out;
  }
  for (std::uint64_t seq = std::max<std::uint64_t>(from, 1);;) {
    std::optional<Message> message = js_->next_message(stream_, subject, seq);
    if (!message) break;
    StoredResults stored;
    stored.stream_seq = message->sequence();
    try {
      stored.results = decode_result_batch(message->data());
      out.push_back(std::move(stored));
    } catch (const proto::DecodeError& e) {
      log::warn("NATS: stored message {} of {} is not a batch of results ({}); skipped",
                stored.stream_seq, stream_, e.what());
    }
    seq = stored.stream_seq + 1;
  }
  return out;
}

std::optional<proto::Result> ResultStream::find(const proto::TaskId& id) {
  std::optional<proto::Result> found;
  for (StoredResults& stored : read(id.session))
    for (proto::Result& result : stored.results)
      if (result.id == id) found = std::move(result);
  return found;
}

std::optional<proto::Result> ResultStream::wait_for(const proto::TaskId& id,
                                                    std::chrono::milliseconds wait) {
  // Subscribe first, then look: a result stored in between is seen by one of the two.
  ResultFeed feed = subscribe(id.session);
  if (std::optional<proto::Result> stored = find(id)) return stored;
  auto deadline = std::chrono::steady_clock::now() + wait;
  while (std::chrono::steady_clock::now() < deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    for (proto::Result& result : feed.next(left))
      if (result.id == id) return std::move(result);
  }
  return std::nullopt;
}

}  // namespace uni::nats
