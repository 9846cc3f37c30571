// WorkerRegistry and ServiceRegistry: JSON entries in TTL buckets.
#include "nats/registry.hpp"

#include <nlohmann/json.hpp>
#include <stdexcept>

#include "common/log.hpp"

namespace uni::nats {

namespace {

void check_key(const std::string& key, const char* what) {
  if (!valid_kv_key(key))
    throw std::invalid_argument(std::string(what) + " '" + key +
                                "' cannot be a NATS KV key (letters, digits and -/_=. only)");
}

template <class Entry, class FromJson>
std::vector<Entry> list_entries(KvBucket& bucket, FromJson from_json) {
  std::vector<Entry> out;
  for (const std::string& key : bucket.keys()) {
    std::optional<std::string> value = bucket.get(key);  // may have expired meanwhile
    if (!value) continue;
    try {
      out.push_back(from_json(nlohmann::json::parse(*value)));
    } catch (const nlohmann::json::exception& e) {
      log::warn("NATS: entry {} of a registry bucket is not uni's JSON ({}); skipped", key,
                e.what());
    }
  }
  return out;
}

}  // namespace

WorkerRegistry WorkerRegistry::open(JetStream& js, const Names& names,
                                    const RegistryConfig& config) {
  return WorkerRegistry(KvBucket::open(js, {.bucket = names.worker_bucket(),
                                            .description = "uni workers alive",
                                            .ttl = config.ttl,
                                            .replicas = config.replicas,
                                            .history = 1}));
}

void WorkerRegistry::announce(const WorkerEntry& worker) {
  check_key(worker.id, "worker id");
  nlohmann::json json = {{"id", worker.id},
                         {"host", worker.host},
                         {"pid", worker.pid},
                         {"slots", worker.slots},
                         {"busy", worker.busy},
                         {"platform", worker.platform},
                         {"isolation", worker.isolation}};
  bucket_.put(worker.id, json.dump());
}

void WorkerRegistry::leave(const std::string& worker_id) { bucket_.remove(worker_id); }

std::vector<WorkerEntry> WorkerRegistry::list() {
  return list_entries<WorkerEntry>(bucket_, [](const nlohmann::json& json) {
    return WorkerEntry{json.at("id").get<std::string>(),
                       json.value("host", ""),
                       json.value("platform", ""),
                       json.value("isolation", ""),
                       json.value("pid", 0u),
                       json.value("slots", 0u),
                       json.value("busy", 0u)};
  });
}

ServiceRegistry ServiceRegistry::open(JetStream& js, const Names& names,
                                      const RegistryConfig& config) {
  return ServiceRegistry(KvBucket::open(js, {.bucket = names.service_bucket(),
                                             .description = "uni services running",
                                             .ttl = config.ttl,
                                             .replicas = config.replicas,
                                             .history = 1}));
}

void ServiceRegistry::announce(const ServiceEntry& service) {
  check_key(service.id, "service id");
  nlohmann::json json = {{"id", service.id},
                         {"worker", service.worker},
                         {"function", service.function},
                         {"module", service.module},
                         {"becomes", service.becomes}};
  bucket_.put(service.id, json.dump());
}

void ServiceRegistry::remove(const std::string& service_id) { bucket_.remove(service_id); }

namespace {
ServiceEntry service_from_json(const nlohmann::json& json) {
  return ServiceEntry{json.at("id").get<std::string>(), json.value("worker", ""),
                      json.value("function", ""), json.value("module", ""),
                      json.value("becomes", 0u)};
}
}  // namespace

std::vector<ServiceEntry> ServiceRegistry::list() {
  return list_entries<ServiceEntry>(bucket_, service_from_json);
}

std::optional<ServiceEntry> ServiceRegistry::find(const std::string& service_id) {
  std::optional<std::string> value = bucket_.get(service_id);
  if (!value) return std::nullopt;
  return service_from_json(nlohmann::json::parse(*value));
}

}  // namespace uni::nats
