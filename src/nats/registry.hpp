// The live worker registry and the services list as KV buckets with a TTL
// (issue 9): a worker puts its entry on every heartbeat, a started service is
// put by its worker while it runs; an entry whose owner died expires TTL after
// its last put, so `uni status` lists what is alive without anyone cleaning
// up. Values are JSON, readable with any NATS tool.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "nats/kv_bucket.hpp"
#include "nats/names.hpp"

namespace uni::nats {

struct WorkerEntry {
  std::string id, host, platform, isolation;
  std::uint32_t pid = 0;  // the supervisor's
  std::uint32_t slots = 0, busy = 0;
};

struct ServiceEntry {
  std::string id;  // the service's task id ("<session>-<seq>")
  std::string worker, function;
  // Its module (hex hash) and how often it took on new code (`uni become`).
  std::string module;
  std::uint32_t becomes = 0;
};

struct RegistryConfig {
  // Three missed heartbeats of a worker beating every second, as the
  // built-in manager's default timeout.
  std::chrono::milliseconds ttl{3000};
  int replicas = 1;
};

class WorkerRegistry {
 public:
  static WorkerRegistry open(JetStream& js, const Names& names, const RegistryConfig& config = {});
  // Puts the entry (again): call it every heartbeat, well within the TTL.
  void announce(const WorkerEntry& worker);
  void leave(const std::string& worker_id);  // a worker that stops cleanly
  std::vector<WorkerEntry> list();
  KvBucket& bucket() { return bucket_; }

 private:
  explicit WorkerRegistry(KvBucket bucket) : bucket_(std::move(bucket)) {}
  KvBucket bucket_;
};

class ServiceRegistry {
 public:
  static ServiceRegistry open(JetStream& js, const Names& names, const RegistryConfig& config = {});
  void announce(const ServiceEntry& service);  // again every heartbeat while it runs
  void remove(const std::string& service_id);  // it returned or was stopped
  std::vector<ServiceEntry> list();
  std::optional<ServiceEntry> find(const std::string& service_id);
  KvBucket& bucket() { return bucket_; }

 private:
  explicit ServiceRegistry(KvBucket bucket) : bucket_(std::move(bucket)) {}
  KvBucket bucket_;
};

}  // namespace uni::nats
