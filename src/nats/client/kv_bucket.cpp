// KvBucket over nats.c's kvStore.
#include "nats/client/kv_bucket.hpp"

#include <optional>

#include "common/log.hpp"
#include "nats/client/error.hpp"

namespace uni::nats {

bool valid_kv_key(std::string_view key) {
  if (key.empty() || key.front() == '.' || key.back() == '.') return false;
  for (char c : key)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '/' && c != '_' &&
        c != '=' && c != '.')
      return false;
  return true;
}

namespace {

// One try at making the bucket with `replicas`; nullptr and `error` if it failed.
kvStore* create(JetStream& js, const KvBucketConfig& config, int replicas,
                std::optional<NatsError>& error) {
  kvConfig cfg;
  kvConfig_Init(&cfg);
  cfg.Bucket = config.bucket.c_str();
  if (!config.description.empty()) cfg.Description = config.description.c_str();
  cfg.TTL = std::chrono::duration_cast<std::chrono::nanoseconds>(config.ttl).count();  // nats.c: ns
  cfg.Replicas = replicas;
  cfg.History = static_cast<uint8_t>(config.history);
  kvStore* kv = nullptr;
  natsStatus status = js_CreateKeyValue(&kv, js.get(), &cfg);
  if (status == NATS_OK) return kv;
  natsStatus last = NATS_OK;
  const char* last_text = nats_GetLastError(&last);
  // Another status's text is an earlier failure's (see check()).
  std::string detail = last_text != nullptr && last == status ? last_text : "";
  error.emplace(classify(status, 0, detail), status, 0,
                "creating KV bucket " + config.bucket + ": " + natsStatus_GetText(status) +
                    (detail.empty() ? "" : " (" + detail + ")"));
  return nullptr;
}

}  // namespace

KvBucket KvBucket::open(JetStream& js, const KvBucketConfig& config) {
  const bool automatic = config.replicas <= 0;
  std::optional<NatsError> error;
  kvStore* kv = nullptr;
  for (int replicas = automatic ? js.auto_replicas() : config.replicas;; --replicas) {
    kv = create(js, config, replicas, error);
    if (kv != nullptr || !automatic || replicas <= 1 || !js.too_few_nodes(*error)) break;
  }
  if (kv == nullptr) {
    // It may exist with other settings (made by an older uni or an
    // operator): bind to it, and give it the replicas the cluster offers.
    if (js_KeyValue(&kv, js.get(), config.bucket.c_str()) != NATS_OK) throw *error;
    KvBucket bucket{KvStoreHandle(kv)};
    if (automatic) {
      try {
        js.raise_replicas("KV_" + config.bucket);
      } catch (const NatsError& e) {
        log::debug("NATS: {}", e.what());  // it works with the replicas it has
      }
    }
    return bucket;
  }
  return KvBucket(KvStoreHandle(kv));
}

std::uint64_t KvBucket::put(const std::string& key, std::string_view value) {
  if (!valid_kv_key(key))
    throw NatsError(FailureKind::kOther, NATS_INVALID_ARG, 0, "invalid KV key '" + key + "'");
  std::uint64_t revision = 0;
  check(
      kvStore_Put(&revision, kv_.get(), key.c_str(), value.data(), static_cast<int>(value.size())),
      "putting " + key + " in KV bucket " + kvStore_Bucket(kv_.get()));
  return revision;
}

std::optional<std::string> KvBucket::get(const std::string& key) {
  kvEntry* entry = nullptr;
  natsStatus status = kvStore_Get(&entry, kv_.get(), key.c_str());
  if (status == NATS_NOT_FOUND) return std::nullopt;
  check(status, "getting " + key + " from KV bucket " + kvStore_Bucket(kv_.get()));
  KvEntryHandle owned(entry);
  return std::string(static_cast<const char*>(kvEntry_Value(entry)),
                     static_cast<std::size_t>(kvEntry_ValueLen(entry)));
}

void KvBucket::remove(const std::string& key) {
  check(kvStore_Delete(kv_.get(), key.c_str()),
        "deleting " + key + " from KV bucket " + kvStore_Bucket(kv_.get()));
}

std::vector<std::string> KvBucket::keys() {
  KeysList list;
  natsStatus status = kvStore_Keys(list.get(), kv_.get(), nullptr);
  std::vector<std::string> out;
  if (status == NATS_NOT_FOUND) return out;  // an empty bucket
  check(status, std::string("listing the keys of KV bucket ") + kvStore_Bucket(kv_.get()));
  for (int i = 0; i < list.size(); ++i) out.emplace_back(list.at(i));
  return out;
}

std::chrono::milliseconds KvBucket::ttl() {
  kvStatus* raw = nullptr;
  check(kvStore_Status(&raw, kv_.get()),
        std::string("reading KV bucket ") + kvStore_Bucket(kv_.get()));
  KvStatusHandle status(raw);
  return std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::nanoseconds(kvStatus_TTL(raw)));
}

}  // namespace uni::nats
