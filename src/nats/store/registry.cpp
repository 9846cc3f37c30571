// WorkerRegistry and ServiceRegistry: JSON entries in TTL buckets.
#include "nats/store/registry.hpp"

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
    } catch (const std::exception& e) {  // nlohmann's, or a session that is not hex
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
                         {"isolation", worker.isolation},
                         {"assigned", worker.assigned},
                         {"fetched", worker.fetched},
                         {"completed", worker.completed},
                         {"failed", worker.failed},
                         {"cancelled", worker.cancelled},
                         {"requeued", worker.requeued},
                         {"tasks_per_s", worker.tasks_per_s},
                         {"started_ms", worker.started_ms},
                         {"at_ms", worker.at_ms}};
  if (!worker.also_platforms.empty()) json["also_platforms"] = worker.also_platforms;
  if (!worker.note.empty()) json["note"] = worker.note;
  bucket_.put(worker.id, json.dump());
}

void WorkerRegistry::leave(const std::string& worker_id) { bucket_.remove(worker_id); }

std::vector<WorkerEntry> WorkerRegistry::list() {
  return list_entries<WorkerEntry>(bucket_, [](const nlohmann::json& json) {
    WorkerEntry w{json.at("id").get<std::string>(),
                  json.value("host", ""),
                  json.value("platform", ""),
                  json.value("isolation", ""),
                  json.value("pid", 0u),
                  json.value("slots", 0u),
                  json.value("busy", 0u)};
    w.also_platforms =
        json.value("also_platforms", nlohmann::json::array()).get<std::vector<std::string>>();
    // An older worker puts none of these: 0.
    w.assigned = json.value("assigned", std::uint64_t{0});
    w.fetched = json.value("fetched", std::uint64_t{0});
    w.completed = json.value("completed", std::uint64_t{0});
    w.failed = json.value("failed", std::uint64_t{0});
    w.cancelled = json.value("cancelled", std::uint64_t{0});
    w.requeued = json.value("requeued", std::uint64_t{0});
    w.tasks_per_s = json.value("tasks_per_s", 0.0);
    w.started_ms = json.value("started_ms", std::int64_t{0});
    w.at_ms = json.value("at_ms", std::int64_t{0});
    w.note = json.value("note", "");
    return w;
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

BossRegistry BossRegistry::open(JetStream& js, const Names& names, const RegistryConfig& config) {
  return BossRegistry(KvBucket::open(js, {.bucket = names.boss_bucket(),
                                          .description = "uni bosses connected",
                                          .ttl = config.ttl,
                                          .replicas = config.replicas,
                                          .history = 1}),
                      js.connection().identity());
}

std::string BossRegistry::key(std::uint64_t session) const {
  return identity_.empty() ? session_hex(session) : identity_ + "." + session_hex(session);
}

void BossRegistry::announce(const BossEntry& boss) {
  nlohmann::json services = nlohmann::json::array();
  for (const BossEntry::Service& s : boss.services)
    services.push_back({{"id", s.id}, {"function", s.function}});
  nlohmann::json json = {{"session", session_hex(boss.session)},
                         {"host", boss.host},
                         {"pid", boss.pid},
                         {"outstanding", boss.outstanding},
                         {"submitted", boss.submitted},
                         {"connected_ms", boss.connected_ms},
                         {"at_ms", boss.at_ms},
                         {"services", services}};
  bucket_.put(key(boss.session), json.dump());
}

void BossRegistry::leave(std::uint64_t session) { bucket_.remove(key(session)); }

std::vector<BossEntry> BossRegistry::list() {
  return list_entries<BossEntry>(bucket_, [](const nlohmann::json& json) {
    BossEntry b;
    b.session = std::stoull(json.at("session").get<std::string>(), nullptr, 16);
    b.host = json.value("host", "");
    b.pid = json.value("pid", 0u);
    b.outstanding = json.value("outstanding", std::uint64_t{0});
    b.submitted = json.value("submitted", std::uint64_t{0});
    b.connected_ms = json.value("connected_ms", std::int64_t{0});
    b.at_ms = json.value("at_ms", std::int64_t{0});
    for (const nlohmann::json& s : json.value("services", nlohmann::json::array()))
      b.services.push_back({s.at("id").get<std::string>(), s.value("function", "")});
    return b;
  });
}

SessionLedger SessionLedger::open(JetStream& js, const Names& names, int replicas,
                                  std::chrono::milliseconds keep) {
  return SessionLedger(KvBucket::open(js, {.bucket = names.session_bucket(),
                                           .description = "uni task ids handed out per session",
                                           .ttl = keep,
                                           .replicas = replicas,
                                           .history = 1}));
}

void SessionLedger::record(std::uint64_t session, std::uint64_t max_seq) {
  bucket_.put(session_hex(session), std::to_string(max_seq));
}

std::optional<std::uint64_t> SessionLedger::max_seq(std::uint64_t session) {
  std::optional<std::string> value = bucket_.get(session_hex(session));
  if (!value) return std::nullopt;
  try {
    return std::stoull(*value);
  } catch (const std::exception&) {
    log::warn("NATS: session {} has no number in KV bucket {} ('{}'); taken as unknown",
              session_hex(session), kvStore_Bucket(bucket_.get()), *value);
    return std::nullopt;
  }
}

}  // namespace uni::nats
