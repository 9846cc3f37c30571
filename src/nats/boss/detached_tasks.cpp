// submit_detached and detached_result over the module store, the task queue
// and the result stream.
#include "nats/boss/detached_tasks.hpp"

#include <sodium.h>

#include <algorithm>
#include <thread>

#include "common/log.hpp"
#include "nats/client/connection.hpp"
#include "nats/client/error.hpp"
#include "nats/client/jetstream.hpp"
#include "nats/store/module_store.hpp"
#include "nats/store/registry.hpp"
#include "nats/store/result_stream.hpp"
#include "nats/store/task_queue.hpp"

namespace uni::nats {

namespace {

using Clock = std::chrono::steady_clock;

// How long `uni submit` waits for a cluster that does not answer (leaders
// being elected take seconds; a quorum coming back, longer).
constexpr std::chrono::seconds kSubmitWait{60};

// Runs `attempt` until it succeeds, retrying the failures of a cluster
// between leaders or restarting (is_transient) until `deadline`, and says
// once what it waits for; then throws the last failure. A server that was
// never reached is not waited for unless `wait_unreachable` (a wrong
// address fails at once). `reached` is set by `attempt` once it connects.
template <class Attempt>
auto through_elections(const EngineConfig& config, const std::string& doing,
                       Clock::time_point deadline, bool wait_unreachable, Attempt attempt) {
  bool reached = false, said = false;
  std::chrono::milliseconds pause{200};
  for (;;) {
    try {
      return attempt(reached);
    } catch (const NatsError& e) {
      const bool retry =
          is_transient(e) && (e.kind() != FailureKind::kUnreachable || reached || wait_unreachable);
      if (!retry || Clock::now() + pause >= deadline) throw;
      if (!said) {
        log::warn(
            "{}: {}; waiting for the NATS cluster at {} (it may be electing leaders, or "
            "lack a quorum of its nodes), for up to {} s",
            doing, e.what(), config.connect.address,
            std::chrono::duration_cast<std::chrono::seconds>(deadline - Clock::now()).count());
        said = true;
      }
      std::this_thread::sleep_for(pause);
      pause = std::min<std::chrono::milliseconds>(pause * 2, std::chrono::seconds(2));
    }
  }
}

}  // namespace

proto::TaskId submit_detached(const EngineConfig& config, const DetachedSubmission& s) {
  proto::Task task;
  std::uint64_t session = 0;
  while (session == 0) randombytes_buf(&session, sizeof session);
  task.id = {session, 1};
  task.module = s.module;
  task.function = s.function;
  task.args = s.args;
  task.timeout_ms = s.timeout_ms;
  task.wait_ms = s.wait_ms;
  task.max_attempts = s.max_attempts;
  // Each try does it all again, with the same task: stored once (the
  // queue drops a message id it has), and what was done is done again.
  return through_elections(
      config, "submitting " + task.id.str(), Clock::now() + kSubmitWait, false, [&](bool& reached) {
        Connection connection = Connection::connect(config.connect);
        reached = true;
        JetStream js(connection, config.api_timeout);
        ModuleStore modules = ModuleStore::open(js, config.names, {.replicas = config.replicas});
        modules.put(s.module, s.platform, s.module_bytes,
                    s.module_signatures);  // skipped if stored already
        // The result stream must exist before a worker stores the result in it.
        ResultStream::open(js, config.names,
                           {.replicas = config.replicas, .max_age = config.result_max_age});
        TaskQueue queue =
            TaskQueue::open(js, config.names, s.platform, {.replicas = config.replicas});
        // Recorded first, so that a cancel of the id by another process, which
        // may come as soon as it is printed, knows it was handed out.
        SessionLedger::open(js, config.names, config.replicas, config.result_max_age)
            .record(session, task.id.seq);
        queue.publish({&task});  // returns once the stream (a quorum of it) holds it
        return task.id;
      });
}

std::optional<proto::Result> detached_result(const EngineConfig& config, const proto::TaskId& id,
                                             std::chrono::milliseconds wait) {
  // Within its wait, a cluster restarting or electing leaders is waited for.
  const Clock::time_point deadline = Clock::now() + std::max(wait, std::chrono::milliseconds(0));
  return through_elections(
      config, "reading the result of " + id.str(), deadline, true,
      [&](bool& reached) -> std::optional<proto::Result> {
        Connection connection = Connection::connect(config.connect);
        reached = true;
        JetStream js(connection, config.api_timeout);
        ResultStream results = ResultStream::open(
            js, config.names, {.replicas = config.replicas, .max_age = config.result_max_age});
        if (wait.count() <= 0) return results.find(id);
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        return results.wait_for(id, std::max(left, std::chrono::milliseconds(1)));
      });
}

}  // namespace uni::nats
