// TaskConsumer: the workers' shared durable pull consumer and its deliveries.
#include "nats/store/task_consumer.hpp"

#include <algorithm>

#include "common/log.hpp"
#include "nats/client/error.hpp"

namespace uni::nats {

namespace {
constexpr std::int64_t kNanosPerMilli = 1'000'000;
}

TaskDelivery::TaskDelivery(Message message, std::vector<proto::Task> tasks, DeliveryInfo info,
                           int max_deliver)
    : message_(std::move(message)),
      tasks_(std::move(tasks)),
      info_(std::move(info)),
      max_deliver_(max_deliver) {
  // A task requeued by a worker (its executor crashed) carries the attempts
  // it has had; each redelivery of its message adds one.
  for (proto::Task& task : tasks_) {
    std::uint64_t base = std::max<std::uint8_t>(task.attempt, 1);
    task.attempt =
        static_cast<std::uint8_t>(std::min<std::uint64_t>(base + info_.delivered - 1, 255));
  }
}

TaskConsumer TaskConsumer::bind(TaskQueue& queue, const Names& names,
                                const TaskConsumerConfig& config) {
  JetStream& js = queue.jetstream();
  std::string durable = names.task_consumer();
  jsConsumerConfig cfg;
  jsConsumerConfig_Init(&cfg);
  cfg.Durable = durable.c_str();
  cfg.AckPolicy = js_AckExplicit;
  cfg.AckWait = config.ack_wait.count() * kNanosPerMilli;
  cfg.MaxDeliver = config.max_deliver;
  cfg.MaxAckPending = config.max_ack_pending;
  cfg.DeliverPolicy = js_DeliverAll;
  jsOptions opts;
  jsOptions_Init(&opts);
  opts.Wait = js.api_timeout().count();
  jsConsumerInfo* info = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus status = js_AddConsumer(&info, js.get(), queue.stream().c_str(), &cfg, &opts, &code);
  if (status != NATS_OK && (code == JSConsumerNameExistErr || code == 10105 /* already exists */)) {
    // Another worker made it with other settings (a newer ack-wait): take them over.
    code = static_cast<jsErrCode>(0);
    status = js_UpdateConsumer(&info, js.get(), queue.stream().c_str(), &cfg, &opts, &code);
    check(status, "updating the workers' consumer of " + queue.stream(), code);
  } else {
    check(status, "creating the workers' consumer of " + queue.stream(), code);
  }
  ConsumerInfoHandle owned(info);

  jsSubOptions sub_options;
  jsSubOptions_Init(&sub_options);
  sub_options.Stream = queue.stream().c_str();
  sub_options.Consumer = durable.c_str();
  natsSubscription* sub = nullptr;
  code = static_cast<jsErrCode>(0);
  check(js_PullSubscribe(&sub, js.get(), queue.subject().c_str(), durable.c_str(), &opts,
                         &sub_options, &code),
        "subscribing to the tasks of " + queue.stream(), code);
  return TaskConsumer(Subscription(SubscriptionHandle(sub)), config);
}

std::vector<TaskDelivery> TaskConsumer::fetch(int max_messages, std::chrono::milliseconds wait) {
  // What is there now, up to max_messages; else wait for one message alone:
  // a pull for several that had to wait is answered only when all came (or
  // at `wait`), holding the first ones back from a worker that waits.
  std::vector<Message> got;
  if (max_messages > 1) got = subscription_.fetch_available(max_messages, wait);
  if (got.empty()) got = subscription_.fetch(1, wait);
  std::vector<TaskDelivery> out;
  for (Message& message : got) {
    DeliveryInfo info = message.delivery();
    std::vector<proto::Task> tasks;
    try {
      tasks = decode_task_batch(message.data());
    } catch (const proto::DecodeError& e) {
      ++malformed_;
      log::warn("NATS: message {} of {} is not a batch of tasks ({}); dropped", info.stream_seq,
                info.stream, e.what());
      message.term();
      continue;
    }
    out.emplace_back(std::move(message), std::move(tasks), std::move(info), config_.max_deliver);
  }
  return out;
}

}  // namespace uni::nats
