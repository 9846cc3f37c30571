// A boss on NATS JetStream, without a manager: tasks published in
// batches to their platform's work-queue stream (message ids, retried through
// leader elections), modules uploaded once by hash to the object store before
// the tasks that need them, results taken from the session's own subject and
// handed up once per task id, cancels stored for the workers, the wait limit
// enforced here, tasks the cluster lost after storing them found (and
// submitted again by the boss), and the cluster's status assembled from the
// registries and the streams. Background threads do the network work; the thread that polls
// wake_fd() collects what they found with take().
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "nats/client/connection.hpp"
#include "nats/store/engine_config.hpp"
#include "proto/messages.hpp"

namespace uni::nats {

// What the background threads have for the polling thread.
struct BossEvents {
  std::vector<proto::Result> results;  // final, each task id once; or kQueueFull
  std::vector<ModuleHash> modules_needed;
  std::vector<std::string> notices;
  // Services submitted with proto::kFlagStartedEvent that a worker reports
  // executing (in the services bucket).
  std::vector<proto::TaskId> services_started;
  // Tasks the cluster no longer holds although it had stored them (a notice
  // says so): the boss submits them again, with proto::kFlagResubmitted.
  std::vector<proto::TaskId> lost;
  bool empty() const {
    return results.empty() && modules_needed.empty() && notices.empty() &&
           services_started.empty() && lost.empty();
  }
};

class BossEngine {
 public:
  // Connects as the boss of `session`, creates what is missing (the result
  // and cancel streams, the module store) and subscribes to its results.
  // Throws NatsError (kAuthFailed, kTls, kUnreachable, ...).
  BossEngine(EngineConfig config, std::uint64_t session);
  ~BossEngine();  // stops the threads; published tasks stay queued
  BossEngine(const BossEngine&) = delete;
  BossEngine& operator=(const BossEngine&) = delete;

  // Readable when take() has something.
  int wake_fd() const;
  BossEvents take();

  // Queues tasks of one platform for publishing; never blocks on the network.
  // A task given again (flag proto::kFlagResubmitted, after `lost`) goes out
  // in a message of a new id.
  void submit(const std::string& platform, std::vector<proto::Task> tasks);
  // A module asked for through modules_needed: stored, then its tasks go out.
  void put_module(const ModuleHash& hash, std::string platform, std::string bytes,
                  std::vector<std::string> signatures = {});
  // Stores a cancel of `ids` (of any session) for the workers, and ends each
  // id without a result yet as `cancelled`; an id that no session is
  // recorded to have handed out is `unknown`. Returns what happened to each.
  std::vector<proto::CancelOutcome> cancel(const std::vector<proto::TaskId>& ids);
  // The cluster as the registries and the streams show it. Blocks (a few
  // requests); throws NatsError.
  proto::StatusReport status();

  // Tasks submitted whose result has not been handed up.
  std::size_t outstanding() const;
  // When the cluster last answered this boss (a result, a stored batch, its
  // heartbeat's entry); not since the first of a run of failures to store
  // what it sends. trouble(): the last of those failures, "" when none.
  using Clock = std::chrono::steady_clock;
  Clock::time_point last_answer() const;
  std::string trouble() const;
  Connection& connection();
  const EngineConfig& config() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace uni::nats
