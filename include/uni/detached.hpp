// uni/detached.hpp — tasks that outlive their boss: submit a task, exit, and
// read its result later by id, from any process (`uni submit`, `uni result`).
//
//   std::string id = uni::submit_detached("nats://h1:4222,nats://h2:4222",
//                                         "libfactorial.so", "factorial", args);
//   ... later, anywhere:
//   std::optional<uni::DetachedResult> r = uni::detached_result(address, id, 30s);
//
// On a NATS JetStream cluster this is durable: the task and its result are
// stored by the cluster (the result for 24 h), so the boss, the worker and a
// NATS node may all die in between. The built-in manager does not keep a
// result for a boss that has left, and refuses these calls with uni::Error.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "uni/uni.hpp"

namespace uni {

struct DetachedResult {
  bool ok = false;
  std::string status;  // "ok", "exception", "crashed", "timed-out", "cancelled", ...
  std::string value;   // ok: the result as msgpack; otherwise the error text
  std::string worker, host;
  int attempt = 1;
};

// Stores FN of the module at `module_path` with `msgpack_args` (a msgpack
// array, as uni::detail::pack_args makes it) and returns the task's id once
// the cluster holds it. Throws ConnectError (unreachable, wrong credentials),
// ModuleError (not a uni module), Error (the built-in manager, other failures).
std::string submit_detached(const std::string& address, const std::string& module_path,
                            const std::string& function, const std::string& msgpack_args,
                            const TaskOptions& options = {});

// The result of task `id`, waiting up to `wait` for it; nullopt if there is
// none by then (still queued or running, never submitted, or expired).
// Throws as submit_detached, and Error for an id that is not a task id.
std::optional<DetachedResult> detached_result(const std::string& address, const std::string& id,
                                              std::chrono::milliseconds wait = {});

}  // namespace uni
