// A worker on NATS JetStream, without a manager: batches pulled
// from the platform's shared consumer within the credit the supervisor grants,
// in-progress sent for every batch held so that long tasks are not
// redelivered, results stored on their boss's subject before the batch is
// acked, the attempt taken from the delivery count (poison tasks end
// `crashed` instead of running again, and batches whose deliveries ran out
// are failed from the max-deliveries advisories), cancels followed from the
// cancel stream, modules fetched by hash, and the worker and its running
// services kept in the registry buckets by its heartbeat. Background threads
// do the network work; the supervisor's thread polls wake_fd() and take()s.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "nats/client/connection.hpp"
#include "nats/store/engine_config.hpp"
#include "proto/messages.hpp"

namespace uni::nats {

struct WorkerIdentity {
  std::string id, host, platform, isolation;
  // Platforms it serves beside `platform` (proto/platforms.hpp): their
  // queues are fetched from too, each by a thread of its own.
  std::vector<std::string> also_platforms;
  std::uint32_t pid = 0;
  std::uint32_t slots = 0;
};

struct WorkerEngineEvents {
  std::vector<proto::Task> tasks;           // to run
  std::vector<proto::ModuleReply> modules;  // answers to fetch_module
  std::vector<proto::TaskId> cancels;       // held tasks to stop
  std::vector<proto::TaskId> stored;        // results stored: forget these tasks
  bool empty() const {
    return tasks.empty() && modules.empty() && cancels.empty() && stored.empty();
  }
};

class WorkerEngine {
 public:
  // Connects, binds the platform's consumer, follows the cancels and
  // registers the worker. Fetches nothing until set_credit(). Throws NatsError.
  WorkerEngine(EngineConfig config, WorkerIdentity identity);
  // Stores the results given so far, gives back (nak) batches still held so
  // they run elsewhere at once, and leaves the registry.
  ~WorkerEngine();
  WorkerEngine(const WorkerEngine&) = delete;
  WorkerEngine& operator=(const WorkerEngine&) = delete;

  int wake_fd() const;
  WorkerEngineEvents take();

  // How many tasks the worker may hold (given to it and not yet stored).
  // Tasks come a message at a time, so a batch may take it past this.
  void set_credit(std::uint32_t capacity);
  void fetch_module(const ModuleHash& hash);
  // Results of tasks take() gave: final ones are stored on the boss's
  // subject (then `stored` names them), kHandedBack ones and retryable
  // crashes are queued again for another worker.
  void send_results(const std::vector<const proto::Result*>& results);
  // Puts the registry entries again: the worker with `busy`, and the started
  // services. Call every second or so (the entries expire after 3 s).
  void heartbeat(std::uint32_t busy, const std::vector<proto::TaskId>& started_services);
  // Why the worker takes no tasks, or empty: put in its registry entry from
  // the next heartbeat on, for `uni status`.
  void set_note(const std::string& note);

  // Service `id` took on new code (`uni become`): its registry entry says so
  // from now on, and a rerun here starts the new function. Returns how many
  // becomes it has gone through, this one included.
  std::uint32_t service_became(const proto::TaskId& id, const ModuleHash& module,
                               const std::string& function);

  std::size_t held() const;  // tasks given and not yet stored
  Connection& connection();

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace uni::nats
