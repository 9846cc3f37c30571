// The live worker registry and the services list as KV buckets with a TTL
//: a worker puts its entry on every heartbeat, a started service is
// put by its worker while it runs; an entry whose owner died expires TTL after
// its last put, so `uni status` lists what is alive without anyone cleaning
// up. Values are JSON, readable with any NATS tool.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "nats/client/kv_bucket.hpp"
#include "nats/store/names.hpp"

namespace uni::nats {

// Times in entries are unix milliseconds: comparable across hosts (as far as
// their clocks agree), unlike a steady clock.
inline std::int64_t unix_ms_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

struct WorkerEntry {
  std::string id, host, platform, isolation;
  std::uint32_t pid = 0;  // the supervisor's
  std::uint32_t slots = 0, busy = 0;
  // Tasks it holds (not yet stored), and all the tasks of the messages it
  // holds: a message stays in its stream until its last task is stored, so
  // the queue is the stream's tasks less the live workers' `fetched`.
  std::uint64_t assigned = 0, fetched = 0;
  // Since it started: results it stored by status, tasks it queued again.
  std::uint64_t completed = 0, failed = 0, cancelled = 0, requeued = 0;
  double tasks_per_s = 0;  // results stored per second over the last 10 s
  // Unix ms, by the worker's clock: when it started, when it put this entry.
  std::int64_t started_ms = 0, at_ms = 0;
  // Platforms it serves beside `platform` (a capability added:
  // "...+python311", proto/platforms.hpp).
  std::vector<std::string> also_platforms = {};
  // Why it takes no tasks (its module cache is unusable); empty when it does.
  std::string note{};
};

struct ServiceEntry {
  std::string id;  // the service's task id ("<session>-<seq>")
  std::string worker, function;
  // Its module (hex hash) and how often it took on new code (`uni become`).
  std::string module;
  std::uint32_t becomes = 0;
};

// A boss connected now, put by its heartbeat (BossRegistry).
struct BossEntry {
  std::uint64_t session = 0;
  std::string host;
  std::uint32_t pid = 0;
  std::uint64_t outstanding = 0;             // tasks submitted without a result yet
  std::uint64_t submitted = 0;               // since it connected
  std::int64_t connected_ms = 0, at_ms = 0;  // unix ms, by the boss's clock
  // Its services not ended: listed `queued` by the status unless a worker
  // reports one running (ServiceRegistry).
  struct Service {
    std::string id, function;
  };
  std::vector<Service> services;
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

// Bosses connected now: each puts its entry on its heartbeat (same TTL as
// the workers'), and removes it when it closes.
class BossRegistry {
 public:
  static BossRegistry open(JetStream& js, const Names& names, const RegistryConfig& config = {});
  void announce(const BossEntry& boss);
  void leave(std::uint64_t session);
  std::vector<BossEntry> list();

 private:
  BossRegistry(KvBucket bucket, std::string identity)
      : bucket_(std::move(bucket)), identity_(std::move(identity)) {}
  // "<session>", or "<identity>.<session>" for a connection with a NATS
  // identity: a permission on $KV.<bucket>.<identity>.* lets it write its
  // own entries and no other boss's.
  std::string key(std::uint64_t session) const;
  KvBucket bucket_;
  std::string identity_;
};

// The highest task id each boss session handed out, kept as long as results
// (24 h): what lets a cancel of another session's id tell a task that was
// submitted (and may wait in a queue) from one that never was. A boss
// records its session as its ids grow; `uni submit` records its one task
// before publishing it.
class SessionLedger {
 public:
  static SessionLedger open(JetStream& js, const Names& names, int replicas,
                            std::chrono::milliseconds keep);
  void record(std::uint64_t session, std::uint64_t max_seq);
  // nullopt: no record (never a session, or older than `keep`).
  std::optional<std::uint64_t> max_seq(std::uint64_t session);

 private:
  explicit SessionLedger(KvBucket bucket) : bucket_(std::move(bucket)) {}
  KvBucket bucket_;
};

}  // namespace uni::nats
