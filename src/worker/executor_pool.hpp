// The supervisor's side of its executor processes: starting them, handing
// them tasks over their channel, relaying their output line by line with the
// task id in front, noticing their death through a pidfd, and starting a
// fresh one in place of each that died.
#pragma once

#include <chrono>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "common/unique_fd.hpp"
#include "worker/channel.hpp"
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

  std::size_t idle() const override;
  void start(RunRequest request) override;
  bool kill(std::uint64_t tag) override;
  void unload(const std::string& module_path) override;
  void add_poll_items(std::vector<zmq::pollitem_t>& items) override;
  void service(const zmq::pollitem_t* first, std::vector<Completion>& done) override;

  std::vector<pid_t> pids() const;

 private:
  struct Executor;
  void spawn(Executor& e);
  void relay(Executor& e, int fd, std::string& partial, FILE* to, bool final);
  void reap(Executor& e, std::vector<Completion>& done);

  ExecutorPoolOptions options_;
  std::vector<std::unique_ptr<Executor>> executors_;
};

}  // namespace uni::worker
