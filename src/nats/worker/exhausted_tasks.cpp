// ExhaustedTasks: a work-queue stream of max-deliveries advisories and its consumer.
#include "nats/worker/exhausted_tasks.hpp"

#include <algorithm>
#include <map>

#include <nlohmann/json.hpp>

#include "common/log.hpp"
#include "nats/client/error.hpp"

namespace uni::nats {

ExhaustedTasks ExhaustedTasks::open(TaskQueue& queue, const Names& names, int replicas) {
  JetStream& js = queue.jetstream();
  std::string advisory =
      "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES." + queue.stream() + "." + names.task_consumer();
  StreamConfig stream;
  stream.name = names.exhausted_stream(queue.platform());
  stream.description = "max-deliveries advisories of " + queue.stream();
  stream.subjects = {advisory};
  stream.retention = Retention::kWorkQueue;
  stream.replicas = replicas;
  js.ensure_stream(stream);

  const char* durable = "sweepers";
  jsConsumerConfig cfg;
  jsConsumerConfig_Init(&cfg);
  cfg.Durable = durable;
  cfg.AckPolicy = js_AckExplicit;
  cfg.AckWait = 30'000'000'000LL;
  jsOptions opts;
  jsOptions_Init(&opts);
  opts.Wait = js.api_timeout().count();
  jsConsumerInfo* info = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus status = js_AddConsumer(&info, js.get(), stream.name.c_str(), &cfg, &opts, &code);
  if (!(status != NATS_OK && (code == JSConsumerNameExistErr || code == 10105)))
    check(status, "creating the consumer of " + stream.name, code);
  ConsumerInfoHandle owned(info);

  jsSubOptions sub_options;
  jsSubOptions_Init(&sub_options);
  sub_options.Stream = stream.name.c_str();
  sub_options.Consumer = durable;
  natsSubscription* sub = nullptr;
  code = static_cast<jsErrCode>(0);
  check(js_PullSubscribe(&sub, js.get(), advisory.c_str(), durable, &opts, &sub_options, &code),
        "subscribing to " + stream.name, code);
  return ExhaustedTasks(queue, Subscription(SubscriptionHandle(sub)));
}

std::optional<ExhaustedBatch> ExhaustedTasks::next(std::chrono::milliseconds wait) {
  std::vector<Message> messages = subscription_.fetch(1, wait);
  if (messages.empty()) return std::nullopt;
  Message& advisory = messages.front();
  std::uint64_t stream_seq = 0, deliveries = 0;
  try {
    nlohmann::json body = nlohmann::json::parse(advisory.data());
    stream_seq = body.at("stream_seq").get<std::uint64_t>();
    deliveries = body.value("deliveries", std::uint64_t{0});
  } catch (const nlohmann::json::exception& e) {
    log::warn("NATS: unreadable max-deliveries advisory ({}); dropped", e.what());
    advisory.term();
    return std::nullopt;
  }
  std::vector<proto::Task> tasks;
  std::string owner;
  try {
    if (auto stored = queue_->read(stream_seq, &owner)) tasks = std::move(*stored);
  } catch (const proto::DecodeError& e) {
    log::warn("NATS: exhausted message {} of {} is not a batch of tasks ({}); removed", stream_seq,
              queue_->stream(), e.what());
  }
  return ExhaustedBatch(*queue_, std::move(advisory), stream_seq, deliveries, std::move(tasks),
                        std::move(owner));
}

void ExhaustedBatch::done() {
  queue_->remove(stream_seq_);
  advisory_.ack();
}

void ExhaustedTasks::fail_waiting(ResultStream& results, const std::string& worker,
                                  const std::string& host) {
  while (std::optional<ExhaustedBatch> batch = next(std::chrono::milliseconds(1))) {
    std::map<std::uint64_t, std::vector<proto::Result>> by_session;
    for (const proto::Task& task : batch->tasks()) {
      proto::Result r;
      r.id = task.id;
      r.status = proto::Status::kCrashed;
      r.payload = "delivered " + std::to_string(batch->deliveries()) +
                  " times and never finished: each worker that took it died or stalled";
      r.attempt = static_cast<std::uint8_t>(std::min<std::uint64_t>(batch->deliveries(), 255));
      r.worker = worker;
      r.host = host;
      by_session[task.id.session].push_back(std::move(r));
    }
    for (auto& [session, list] : by_session) {
      std::vector<const proto::Result*> ptrs;
      for (const proto::Result& r : list) ptrs.push_back(&r);
      PublishOptions options;
      options.msg_id = "exhausted-" + queue_->stream() + "-" + std::to_string(batch->stream_seq());
      results.publish(batch->owner(), session, ptrs, options);
    }
    log::warn(
        "NATS: batch {} of {} ({} tasks) was delivered {} times without an ack; its tasks failed",
        batch->stream_seq(), queue_->stream(), batch->tasks().size(), batch->deliveries());
    batch->done();
  }
}

}  // namespace uni::nats
