// read_cluster_status: registries, then one consumer info per task stream.
#include "nats/cluster_status.hpp"

#include <algorithm>
#include <map>

#include "common/log.hpp"
#include "nats/address.hpp"
#include "nats/error.hpp"
#include "nats/registry.hpp"
#include "uni/version.hpp"

namespace uni::nats {

namespace {

struct QueueCounts {
  std::uint64_t waiting = 0, in_flight = 0;
};

std::optional<QueueCounts> queue_counts(JetStream& js, const Names& names,
                                        const std::string& platform) {
  std::string stream = names.task_stream(platform);
  std::string consumer = names.task_consumer();
  jsOptions opts;
  jsOptions_Init(&opts);
  opts.Wait = js.api_timeout().count();
  jsConsumerInfo* raw = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus status =
      js_GetConsumerInfo(&raw, js.get(), stream.c_str(), consumer.c_str(), &opts, &code);
  ConsumerInfoHandle info(raw);
  if (status == NATS_OK)
    return QueueCounts{info->NumPending, static_cast<std::uint64_t>(info->NumAckPending)};
  // No worker has bound yet: everything in the stream waits.
  std::optional<StreamState> state = js.stream_state(stream);
  if (!state) return std::nullopt;
  return QueueCounts{state->messages, 0};
}

}  // namespace

proto::StatusReport read_cluster_status(JetStream& js, const EngineConfig& config,
                                        std::vector<std::string> platforms) {
  proto::StatusReport report;
  report.manager = "nats";
  report.version = UNI_VERSION_STRING;
  report.endpoint = NatsAddress::parse(config.connect.address).servers_text();

  WorkerRegistry workers = WorkerRegistry::open(js, config.names, {.replicas = config.replicas});
  std::map<std::string, std::string> host_of;
  for (const WorkerEntry& w : workers.list()) {
    proto::StatusReport::Worker out;
    out.id = w.id;
    out.host = w.host;
    out.pid = w.pid;
    out.slots = w.slots;
    out.busy = w.busy;
    out.assigned = w.busy;
    out.capacity = w.slots;
    out.platform = w.platform;
    out.isolation = w.isolation;
    report.running += w.busy;
    host_of[w.id] = w.host;
    platforms.push_back(w.platform);
    report.workers.push_back(std::move(out));
  }
  std::sort(report.workers.begin(), report.workers.end(),
            [](const auto& a, const auto& b) { return a.id < b.id; });

  std::sort(platforms.begin(), platforms.end());
  platforms.erase(std::unique(platforms.begin(), platforms.end()), platforms.end());
  for (const std::string& platform : platforms) {
    try {
      check_platform(platform);
      if (std::optional<QueueCounts> counts = queue_counts(js, config.names, platform)) {
        report.queue += counts->waiting;
        report.assigned += counts->in_flight;
      }
    } catch (const std::exception& e) {
      log::debug("NATS: no queue length for platform {}: {}", platform, e.what());
    }
  }

  ServiceRegistry services = ServiceRegistry::open(js, config.names, {.replicas = config.replicas});
  for (const ServiceEntry& s : services.list()) {
    proto::StatusReport::Service out;
    out.id = s.id;
    out.state = proto::ServiceState::kRunning;
    out.started = true;
    out.worker = s.worker;
    out.host = host_of.count(s.worker) ? host_of[s.worker] : "";
    out.function = s.function;
    out.module = s.module;
    out.becomes = s.becomes;
    report.services.push_back(std::move(out));
  }
  std::sort(report.services.begin(), report.services.end(),
            [](const auto& a, const auto& b) { return a.id < b.id; });
  return report;
}

}  // namespace uni::nats
