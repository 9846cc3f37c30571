// How a worker runs tasks: in executor processes (ExecutorPool, the default)
// or on threads of its own (ThreadRunner, --isolation thread). The supervisor
// drives either through this interface from its poll loop.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>
#include "broker/poll.hpp"

#include "common/process.hpp"
#include "proto/messages.hpp"

namespace uni::worker {

struct Completion {
  std::uint64_t tag = 0;
  proto::Status status = proto::Status::kOk;
  std::string payload;
  std::uint32_t pid = 0;           // the process that ran it
  std::int64_t elapsed_ns = 0;     // its run time
  std::optional<ExitStatus> died;  // set when its executor died running it
  std::string cause;               // then, what ended it ("executor killed by SIGSEGV")
  // The sandbox stopped it: it tried a system call the sandbox denies
  // (cause says which). The task's own doing: it fails, not to be retried.
  bool denied = false;
};

// A module as a runner loads it: its cache path names it (executors and
// threads load each path once), its image (module_image.hpp, held by the
// module cache while the task holds the module) is what is loaded.
struct ModuleRef {
  std::string path;
  ModuleHash hash;
  int image = -1;  // -1: load the file at `path` itself (tests that drive a runner alone)
};

struct RunRequest {
  std::uint64_t tag = 0;
  std::string module_path;
  std::string function;
  std::string args;
  proto::TaskId task;  // prefixed to its output lines
  // Handed only to an executor with nothing else in its pipeline, and
  // nothing is queued behind it: a task that must never run twice (max
  // attempts 1), so that its fate is never confused with a neighbour's if
  // the executor dies; and a service, which holds its executor until it is
  // stopped (a task or service queued behind it would wait as long).
  bool exclusive = false;
  ModuleHash module{};    // the module at module_path
  int module_image = -1;  // its sealed image; -1: load module_path itself
};

// What came of a become a runner was asked for (Runner::become).
struct BecomeOutcome {
  std::uint64_t tag = 0;
  std::uint64_t request = 0;
  bool ok = false;
  std::string text;  // not ok: why the old version resumed
  std::uint64_t handover_ns = 0;
};

class Runner {
 public:
  using Clock = std::chrono::steady_clock;
  virtual ~Runner() = default;

  // Tasks that can be handed over now. With a pipeline depth above 1, an
  // executor is given further short tasks before it finishes the current one.
  virtual std::size_t room() const = 0;
  virtual void set_pipeline_depth(unsigned depth) = 0;
  // Hands the task over; false if no executor can take it right now.
  virtual bool start(RunRequest& request) = 0;

  enum class Stop { kStopping, kDropped, kNotStarted, kCannot };
  // Stops a task. kStopping: it was running and its Completion follows with
  // `died` set. kDropped: it had not started and is gone, no Completion.
  // kNotStarted: it waits in an executor's pipeline and will still run.
  // kCannot: it runs, and this isolation cannot stop it (threads).
  // With `force`, an executor holding the task is killed even if the task has
  // not started (kStopping): its Completion then says kHandedBack, or `died`
  // if it started meanwhile.
  virtual Stop stop(std::uint64_t tag, bool force = false) = 0;
  // When the task started running, if it has.
  virtual std::optional<Clock::time_point> started(std::uint64_t tag) const = 0;
  // How many slots are busy: executing a task, or holding tasks handed over
  // to run next (a pipeline of short tasks keeps its slot busy between them).
  virtual std::size_t executing() const = 0;
  // Takes back what waits beyond `depth` tasks per slot (tasks turned out
  // longer than the pipeline was sized for): each gets a kHandedBack
  // Completion, unless it started meanwhile.
  virtual void recall(unsigned depth) = 0;

  // ---- become (service_becomes.hpp, executor_service.hpp) ----
  // Asks the service running under `tag` to hand over to `function` of
  // `module`. Returns "" when asked (a BecomeOutcome follows,
  // from take_become_outcomes), otherwise why it cannot be.
  virtual std::string become(std::uint64_t /*tag*/, std::uint64_t /*request*/,
                             const ModuleRef& /*module*/, const std::string& /*function*/) {
    return "this worker runs tasks on threads (--isolation thread), where a service cannot be "
           "handed over: become needs process isolation";
  }
  // The request's time is up: true if it was withdrawn before the service
  // handed over (it runs on unchanged; no outcome follows), false if the
  // service has handed over already (the outcome follows).
  virtual bool withdraw_become(std::uint64_t /*tag*/, std::uint64_t /*request*/) { return true; }
  // Appends the outcomes reported since the last call.
  virtual void take_become_outcomes(std::vector<BecomeOutcome>& /*out*/) {}

  // What its executors can run beyond the platform's plain modules, each a
  // capability a module's platform tag may name ("python311": the Python
  // runtime, python_probe.hpp). Threads offer none.
  virtual std::vector<std::string> capabilities() const { return {}; }

  // Forgets a module evicted from the cache.
  virtual void unload(const std::string& module_path) = 0;
  // The fds to watch, appended to the supervisor's poll set.
  virtual void add_poll_items(std::vector<broker::PollItem>& items) = 0;
  // Services the items it added (starting at `first`); appends finished tasks.
  virtual void service(const broker::PollItem* first, std::vector<Completion>& done) = 0;
};

}  // namespace uni::worker
