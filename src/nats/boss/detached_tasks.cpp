// submit_detached and detached_result over the module store, the task queue
// and the result stream.
#include "nats/boss/detached_tasks.hpp"

#include <sodium.h>

#include "nats/client/connection.hpp"
#include "nats/client/jetstream.hpp"
#include "nats/store/module_store.hpp"
#include "nats/store/registry.hpp"
#include "nats/store/result_stream.hpp"
#include "nats/store/task_queue.hpp"

namespace uni::nats {

proto::TaskId submit_detached(const EngineConfig& config, const DetachedSubmission& s) {
  Connection connection = Connection::connect(config.connect);
  JetStream js(connection);
  ModuleStore modules = ModuleStore::open(js, config.names, {.replicas = config.replicas});
  modules.put(s.module, s.platform, s.module_bytes,
              s.module_signatures);  // skipped if stored already
  // The result stream must exist before a worker stores the result in it.
  ResultStream::open(js, config.names,
                     {.replicas = config.replicas, .max_age = config.result_max_age});
  TaskQueue queue = TaskQueue::open(js, config.names, s.platform, {.replicas = config.replicas});
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
  // Recorded first, so that a cancel of the id by another process, which
  // may come as soon as it is printed, knows it was handed out.
  SessionLedger::open(js, config.names, config.replicas, config.result_max_age)
      .record(session, task.id.seq);
  queue.publish({&task});  // returns once the stream (a quorum of it) holds it
  return task.id;
}

std::optional<proto::Result> detached_result(const EngineConfig& config, const proto::TaskId& id,
                                             std::chrono::milliseconds wait) {
  Connection connection = Connection::connect(config.connect);
  JetStream js(connection);
  ResultStream results = ResultStream::open(
      js, config.names, {.replicas = config.replicas, .max_age = config.result_max_age});
  if (wait.count() <= 0) return results.find(id);
  return results.wait_for(id, wait);
}

}  // namespace uni::nats
