// uni/detached.hpp — tasks that outlive their boss: submit a task, exit, and
// read its result later by id, from any process (`uni submit`, `uni result`).
//
//   std::string id = uni::submit_detached("tcp://127.0.0.1:7070",
//                                         "libfactorial.so", "factorial", args);
//   ... later, anywhere:
//   std::optional<uni::DetachedResult> r = uni::detached_result(address, id, 30s);
//
// Where the result is kept depends on the address:
// - A NATS JetStream cluster (nats://...) stores the task and its result (the
//   result for 24 h), so the boss, the worker and a NATS node may all die in
//   between. Credentials come from the address and UNI_NATS_* (scale-out.md).
// - The built-in manager (tcp://...) holds the task and then its result in
//   memory, while it runs: the boss and the worker may die in between (a
//   task whose worker dies is rerun, as any task), but a manager that stops
//   or restarts loses them. It keeps a result for 24 h
//   (`uni manager --keep-results-for`), and at most a bounded number of them
//   (`--max-kept-results`, `--max-kept-result-bytes`), the oldest evicted
//   first. `connection` carries the authkey, as for uni::connect.
//
// Both functions connect for the call and disconnect before they return;
// calls share no state.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "uni/uni.hpp"

// Declared here, exported by libuni-client.so (built with hidden visibility).
#pragma GCC visibility push(default)
namespace uni {

struct DetachedResult {
  bool ok = false;
  std::string status;  // "ok", "exception", "crashed", "timed-out", "cancelled", ...
  std::string value;   // ok: the result as msgpack; otherwise the error text
  std::string worker, host;
  int attempt = 1;
};

// The cluster knows it does not have task `id`, and will not: never
// submitted to it, its result dropped (expired or evicted), or — on the
// built-in manager — submitted before the manager (re)started. what() says
// which, as far as the cluster can tell, and since when the manager runs.
// Only the built-in manager throws it; on NATS an unknown id is as a task
// without a result yet (nullopt).
class UnknownTaskError : public Error {
 public:
  using Error::Error;
};

// Hands FN of the module at `module_path` with `msgpack_args` (a msgpack
// array, as uni::detail::pack_arguments<Args...>(args...) makes it) to the
// cluster and returns the task's id once the cluster holds the task (and its
// module): the caller may exit at once. The id is unique across bosses and
// sessions (a fresh random 64-bit session per call). Throws ConnectError
// (unreachable, wrong credentials), ModuleError (not a uni module), Error
// (the cluster refused the task, saying why; other failures).
std::string submit_detached(const std::string& address, const std::string& module_path,
                            const std::string& function, const std::string& msgpack_args,
                            const TaskOptions& options = {}, const ConnectOptions& connection = {});

// The result of task `id`, waiting up to `wait` for it (on the built-in
// manager the manager answers as soon as the task ends); nullopt if there is
// none by then (still queued or running; on NATS also never submitted, or
// expired). Reading a result does not remove it. Throws as submit_detached,
// Error for an id that is not a task id, UnknownTaskError (above).
std::optional<DetachedResult> detached_result(const std::string& address, const std::string& id,
                                              std::chrono::milliseconds wait = {},
                                              const ConnectOptions& connection = {});

}  // namespace uni
#pragma GCC visibility pop
