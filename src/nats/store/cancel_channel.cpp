// CancelChannel: the stream of cancels and the workers' ordered feed of it.
#include "nats/store/cancel_channel.hpp"

#include "common/log.hpp"
#include "nats/client/error.hpp"

namespace uni::nats {

CancelChannel CancelChannel::open(JetStream& js, const Names& names,
                                  const CancelChannelConfig& config) {
  StreamConfig stream;
  stream.name = names.cancel_stream();
  stream.description = "uni cancels, one subject per boss session";
  stream.subjects = {names.cancel_subjects()};
  stream.retention = Retention::kLimits;
  stream.replicas = config.replicas;
  stream.max_age = config.max_age;
  js.ensure_stream(stream);
  return CancelChannel(js, names, stream.name);
}

PublishAck CancelChannel::cancel(std::uint64_t session, const std::vector<proto::TaskId>& ids,
                                 const PublishOptions& options) {
  if (ids.empty()) throw std::invalid_argument("cancelling no task");
  return js_->publish(names_.cancel_subject(session), proto::encode_cancel(ids), options);
}

CancelFeed CancelChannel::follow() {
  jsOptions opts;
  jsOptions_Init(&opts);
  opts.Wait = js_->api_timeout().count();
  jsSubOptions sub_options;
  jsSubOptions_Init(&sub_options);
  sub_options.Stream = stream_.c_str();
  // An ordered consumer: ephemeral, in stream order, recreated by nats.c
  // from the right place if a message is missed or the server changes.
  sub_options.Ordered = true;
  sub_options.Config.DeliverPolicy = js_DeliverAll;
  natsSubscription* sub = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  std::string subjects = names_.cancel_subjects();
  check(js_SubscribeSync(&sub, js_->get(), subjects.c_str(), &opts, &sub_options, &code),
        "following the cancels of " + stream_, code);
  return CancelFeed(Subscription(SubscriptionHandle(sub)));
}

std::vector<proto::TaskId> CancelFeed::next(std::chrono::milliseconds wait) {
  auto deadline = std::chrono::steady_clock::now() + wait;
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    std::optional<Message> message =
        subscription_.next(std::max(left, std::chrono::milliseconds(1)));
    if (!message) return {};
    try {
      proto::Message parsed = proto::Message::parse(message->data().data(), message->data().size());
      if (parsed.type() == proto::Type::kCancel) return parsed.task_ids();
      log::warn("NATS: a message on {} is not a CANCEL ({}); skipped", message->subject(),
                proto::type_name(parsed.type()));
    } catch (const proto::DecodeError& e) {
      log::warn("NATS: a message on {} is not a CANCEL ({}); skipped", message->subject(),
                e.what());
    }
    if (std::chrono::steady_clock::now() >= deadline) return {};
  }
}

}  // namespace uni::nats
