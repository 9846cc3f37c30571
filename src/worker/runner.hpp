// How a worker runs tasks: in executor processes (ExecutorPool, the default)
// or on threads of its own (ThreadRunner, --isolation thread). The supervisor
// drives either through this interface from its poll loop.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>
#include <zmq.hpp>

#include "common/process.hpp"
#include "proto/messages.hpp"

namespace uni::worker {

struct Completion {
  std::uint64_t tag = 0;
  proto::Status status = proto::Status::kOk;
  std::string payload;
  std::uint32_t pid = 0;                // the process that ran it
  std::optional<ExitStatus> died;       // set when the executor died under the task
};

struct RunRequest {
  std::uint64_t tag = 0;
  std::string module_path;
  std::string function;
  std::string args;
  std::string label;  // the task id, prefixed to its output lines
};

class Runner {
 public:
  virtual ~Runner() = default;
  virtual std::size_t idle() const = 0;  // slots free to start a task now
  virtual void start(RunRequest request) = 0;
  // Stops a running task; its Completion follows with `died` set. Returns
  // false where the isolation mode cannot stop a running task (threads).
  virtual bool kill(std::uint64_t tag) = 0;
  // Forgets a module evicted from the cache.
  virtual void unload(const std::string& module_path) = 0;
  // The fds to watch, appended to the supervisor's poll set.
  virtual void add_poll_items(std::vector<zmq::pollitem_t>& items) = 0;
  // Services the items it added (starting at `first`); appends finished tasks.
  virtual void service(const zmq::pollitem_t* first, std::vector<Completion>& done) = 0;
};

}  // namespace uni::worker
