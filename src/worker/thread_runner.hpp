// --isolation thread: tasks run on threads of the worker process itself.
// For trusted code and the lowest latency; what it gives up (docs/reliability.md):
// a crashing task takes the whole worker down (the manager requeues its
// tasks), a running task cannot be stopped by a timeout or a cancel, and
// task output is not prefixed with the task id.
#pragma once

#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "common/unique_fd.hpp"
#include "worker/module_loader.hpp"
#include "worker/runner.hpp"

namespace uni::worker {

class ThreadRunner : public Runner {
 public:
  explicit ThreadRunner(unsigned slots);
  ~ThreadRunner() override;  // joins; a task still running delays it

  std::size_t room() const override;
  void set_pipeline_depth(unsigned depth) override { depth_ = depth ? depth : 1; }
  bool start(RunRequest& request) override;
  Stop stop(std::uint64_t tag, bool force = false) override;
  std::optional<Clock::time_point> started(std::uint64_t tag) const override;
  std::size_t executing() const override;
  void recall(unsigned depth) override;
  void unload(const std::string& module_path) override;
  void add_poll_items(std::vector<broker::PollItem>& items) override;
  void service(const broker::PollItem* first, std::vector<Completion>& done) override;

 private:
  void loop();
  const LoadedModule* module(const RunRequest& request, std::string& error);

  unsigned slots_;
  unsigned depth_ = 1;
  std::size_t handed_ = 0;  // started and not completed; the supervisor thread's own
  UniqueFd wake_;           // eventfd: a completion is waiting
  mutable std::mutex mutex_;
  std::condition_variable work_ready_;
  std::deque<RunRequest> work_;
  std::unordered_map<std::uint64_t, Clock::time_point> running_;
  std::vector<Completion> finished_;
  std::map<std::string, std::unique_ptr<LoadedModule>> modules_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace uni::worker
