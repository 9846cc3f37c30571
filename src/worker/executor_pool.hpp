// The supervisor's side of its executor processes: starting them, handing
// them tasks over their channel (several at once for short tasks), relaying
// their output line by line with the task id in front, noticing their death
// through a pidfd, and starting a fresh one in place of each that died or
// retired (after an out-of-memory failure, --max-tasks-per-executor tasks or
// past --max-executor-memory); asking a service to hand over (become) through
// an eventfd each executor polls beside its own descriptors. The supervisor is the subreaper of
// what its executors leave behind, and ends it.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "worker/runner.hpp"
#include "worker/sandbox.hpp"

namespace uni::worker {

struct ExecutorPoolOptions {
  unsigned slots = 1;
  std::uint64_t mem_limit = 0;  // per executor, bytes; 0 = none
  // An executor is replaced, between tasks, after this many tasks (0: never)
  // or once its resident memory passes max_memory bytes (0: never).
  unsigned max_tasks = 0;
  std::uint64_t max_memory = 0;
  bool pid_namespace = false;              // each executor in a PID namespace of its own
  std::string program = "/proc/self/exe";  // the uni binary, run as `uni executor`
  SandboxOptions sandbox{};                // what executors run in (sandbox.hpp)
};

class ExecutorPool : public Runner {
 public:
  // Throws std::runtime_error if executors cannot be started as asked (a PID
  // namespace where the kernel refuses one, a strict sandbox it cannot give).
  explicit ExecutorPool(ExecutorPoolOptions options);
  ~ExecutorPool() override;

  std::size_t room() const override;
  void set_pipeline_depth(unsigned depth) override { depth_ = depth ? depth : 1; }
  bool start(RunRequest& request) override;
  Stop stop(std::uint64_t tag, bool force = false) override;
  std::optional<Clock::time_point> started(std::uint64_t tag) const override;
  std::size_t executing() const override;
  void recall(unsigned depth) override;
  std::string become(std::uint64_t tag, std::uint64_t request, const ModuleRef& module,
                     const std::string& function) override;
  bool withdraw_become(std::uint64_t tag, std::uint64_t request) override;
  void take_become_outcomes(std::vector<BecomeOutcome>& out) override;
  void unload(const std::string& module_path) override;
  void add_poll_items(std::vector<broker::PollItem>& items) override;
  void service(const broker::PollItem* first, std::vector<Completion>& done) override;

 private:
  struct Executor;
  void spawn(Executor& e);
  // Queues a LOAD with the module's image unless the executor has it.
  void send_module(Executor& e, const std::string& path, const ModuleHash& hash, int image);
  void read_channel(Executor& e, std::vector<Completion>& done, bool dying = false);
  void on_channel_lost(Executor& e);
  void stop_broken(Executor& e, std::string why);
  void retire_when_idle(Executor& e, Clock::time_point now);
  void reap(Executor& e, std::vector<Completion>& done);
  void sweep_orphans();

  ExecutorPoolOptions options_;
  unsigned depth_ = 1;
  std::vector<std::unique_ptr<Executor>> executors_;
  bool orphans_pending_ = false;                // killed orphans not yet reaped
  std::vector<BecomeOutcome> become_outcomes_;  // BECAME frames read, not yet taken
};

}  // namespace uni::worker
