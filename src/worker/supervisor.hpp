// The worker's supervisor: its link to the broker
// (broker/worker_link.hpp), the tasks it holds (fetching their module, ready, running, finished and
// not yet acknowledged), the module cache, the runner (executor processes or threads), heartbeats,
// timeouts and cancellation. One thread, one poll loop.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "worker/sandbox.hpp"

namespace uni::broker {
class WorkerLink;
}

namespace uni::worker {

struct WorkerConfig {
  unsigned slots = 0;             // 0: one per core
  bool thread_isolation = false;  // --isolation thread
  std::string cache_dir;          // empty: $XDG_CACHE_HOME/uni/modules or ~/.cache/uni/modules
  std::uint64_t cache_bytes = 1ull << 30;
  std::uint64_t mem_limit = 0;  // per executor, bytes; 0 = none
  // An executor is replaced between tasks after this many tasks, or once its
  // resident memory passes this many bytes; 0 = never.
  unsigned max_tasks_per_executor = 0;
  std::uint64_t max_executor_memory = 0;
  bool pid_namespace = false;  // each executor in a PID namespace of its own
  // The sandbox executors run tasks in; the module cache is added to the
  // paths hidden from them. Not applied under thread isolation.
  SandboxOptions sandbox;
  // Code provenance (module_policy.hpp): files of trusted signing keys and
  // of allowed module hashes; with neither, every module runs.
  std::vector<std::string> trust_files;
  std::vector<std::string> allow_module_files;
  // How long to wait for a manager at start-up; 0: as long as it takes (the
  // worker says on stderr what it waits for).
  std::chrono::milliseconds connect_timeout{0};
  // A draining worker gives running tasks this long to finish; then it stops
  // them, and each counts as a failed attempt (the manager may rerun it).
  std::chrono::milliseconds drain_timeout{30000};
};

class Supervisor {
 public:
  // Runs over `link`, not yet opened: made for an address by app/links.hpp,
  // or a test double. The supervisor never asks which broker it is.
  Supervisor(WorkerConfig config, std::unique_ptr<broker::WorkerLink> link);
  ~Supervisor();
  Supervisor(const Supervisor&) = delete;
  Supervisor& operator=(const Supervisor&) = delete;

  // Connects and serves until request_stop(). Throws broker::ConnectFailure
  // if the first connection fails: authentication failed, another protocol,
  // or no broker answered within connect_timeout (when set).
  void run();

  // Stops at once. Safe from a signal handler and from any thread.
  void request_stop();

  // Graceful stop (SIGTERM): take no new tasks, hand queued ones back, let
  // running ones finish within the drain timeout, hand back the rest, leave.
  // Safe from a signal handler and from any thread.
  void request_drain();

  const std::string& id() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// $XDG_CACHE_HOME/uni/modules, else ~/.cache/uni/modules.
std::string default_cache_dir();

}  // namespace uni::worker
