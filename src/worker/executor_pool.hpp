// The supervisor's side of its executor processes: starting them, handing
// them tasks over their channel (several at once for short tasks), relaying
// their output line by line with the task id in front, noticing their death
// through a pidfd, and starting a fresh one in place of each that died.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "worker/runner.hpp"

namespace uni::worker {

struct ExecutorPoolOptions {
  unsigned slots = 1;
  std::uint64_t mem_limit = 0;  // per executor, bytes; 0 = none
};

class ExecutorPool : public Runner {
 public:
  explicit ExecutorPool(ExecutorPoolOptions options);
  ~ExecutorPool() override;

  std::size_t room() const override;
  void set_pipeline_depth(unsigned depth) override { depth_ = depth ? depth : 1; }
  bool start(RunRequest& request) override;
  Stop stop(std::uint64_t tag, bool force = false) override;
  std::optional<Clock::time_point> started(std::uint64_t tag) const override;
  std::size_t executing() const override;
  void recall(unsigned depth) override;
  void unload(const std::string& module_path) override;
  void add_poll_items(std::vector<zmq::pollitem_t>& items) override;
  void service(const zmq::pollitem_t* first, std::vector<Completion>& done) override;

 private:
  struct Executor;
  void spawn(Executor& e);
  void read_channel(Executor& e, std::vector<Completion>& done);
  void reap(Executor& e, std::vector<Completion>& done);

  ExecutorPoolOptions options_;
  unsigned depth_ = 1;
  std::vector<std::unique_ptr<Executor>> executors_;
};

}  // namespace uni::worker
