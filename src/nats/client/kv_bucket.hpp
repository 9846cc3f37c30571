// A JetStream key-value bucket (nats.c's kvStore), owned. Entries of a bucket
// with a TTL expire that long after their last put (server 2.9: one TTL per
// bucket, counted from each key's latest revision, expiry silent to
// watchers), which is what makes it a registry of live things: whoever is
// alive puts again before the TTL runs out.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "nats/client/error.hpp"
#include "nats/client/jetstream.hpp"

namespace uni::nats {

struct KvBucketConfig {
  std::string bucket;  // letters, digits, '_' and '-'
  std::string description;
  std::chrono::milliseconds ttl{0};  // 0: entries never expire
  // 0: as many as the cluster offers, up to kDefaultReplicas (an existing
  // bucket with fewer is raised when the cluster can).
  int replicas = 1;
  int history = 1;  // revisions kept per key
};

class KvBucket {
 public:
  // Creates the bucket, or binds to it if it exists (with whatever TTL it
  // was made with: see ttl()). Throws NatsError.
  static KvBucket open(JetStream& js, const KvBucketConfig& config);

  // Keys: letters, digits and "-/_=." (NATS rules); throws NatsError otherwise.
  std::uint64_t put(const std::string& key, std::string_view value);  // the new revision
  std::optional<std::string> get(const std::string& key);  // nullopt: absent, deleted or expired
  void remove(const std::string& key);
  std::vector<std::string> keys();
  std::chrono::milliseconds ttl();  // as the server has it

  kvStore* get() const { return kv_.get(); }

 private:
  explicit KvBucket(KvStoreHandle kv) : kv_(std::move(kv)) {}
  KvStoreHandle kv_;
};

// Whether `key` is a valid KV key.
bool valid_kv_key(std::string_view key);

}  // namespace uni::nats
