// uni/uni.hpp — the boss side of a uni cluster: connect, send functions with
// their arguments to the workers, collect results.
//
//   #include <uni/uni.hpp>
//   #include "factorial.hpp"            // the module's own header
//
//   auto cluster = uni::connect("tcp://127.0.0.1:7070");
//   uni::Future<std::uint64_t> f = cluster.remote(factorial)(20);
//   std::cout << f.get() << " computed by pid " << f.worker().pid << "\n";
//
// Functions live in modules (see uni/module.hpp). A boss that links a module
// passes the function itself (`cluster.remote(factorial)`); one that does not
// names the module file and the function (`cluster.function<R(Args...)>(path,
// "name")`). Either way the module is shipped to the workers on first use,
// content-addressed, and cached there.
//
// Thread safety: a Cluster and its futures may be used from any number of
// threads at once.
//
// Lifetime: a Cluster is a handle to one connection (copies share it). The
// connection stays open while anything made from it lives — a copy of the
// Cluster, a RemoteFunction, a Future, a Service — so a Future may outlive
// the Cluster that made it and still get its result; the connection closes
// (saying goodbye to the manager) when the last of them goes. Tasks still
// unfinished then are left to the manager, which drops them after a grace
// period (services submitted detached run on).
//
// Logging: the library writes its own warnings and, with UNI_LOG_LEVEL=debug,
// its debug lines to stderr, never to stdout, whatever logging the program
// sets up for itself.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "uni/detail/types.hpp"
#include "uni/version.hpp"

// The client's engine is private to libuni-client.so: declared before the
// public part, so that its members stay hidden.
namespace uni::detail {
class Client;
}  // namespace uni::detail

// Declared here, exported by libuni-client.so (built with hidden visibility).
#pragma GCC visibility push(default)
namespace uni {

class ServiceContext;  // uni/service.hpp
struct BecomeResult;

// ---- errors ---------------------------------------------------------------------

// Base of every exception uni throws.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The cluster could not be reached, or refused this client.
class ConnectError : public Error {
 public:
  enum class Reason {
    kUnreachable,  // no manager answered at the address
    kAuthFailed,   // the handshake failed: wrong authkey
    kRefused,      // the manager answered with an error (e.g. protocol version)
  };
  ConnectError(Reason reason, const std::string& what) : Error(what), reason_(reason) {}
  Reason reason() const { return reason_; }

 private:
  Reason reason_;
};

// The manager refused this client what it asked: the key it connected with
// (ConnectOptions::key_file) has a role that may not do it, or the task,
// service or result is another key's (docs/security.md). what() names the
// key, its role and what was refused: "refused: key 'w1' has role worker,
// which may not read the status". A refused submission is a TaskError of
// kind kRefused instead.
class RefusedError : public Error {
 public:
  using Error::Error;
};

// A module file that cannot be shipped: missing, not a shared object, not a
// uni module, or a function that is not exported from one.
class ModuleError : public Error {
 public:
  using Error::Error;
};

// Which worker ran a task, and the process that ran it.
struct WorkerInfo {
  std::string id;
  std::string host;
  std::uint32_t pid = 0;
};

// Why a task failed.
enum class ErrorKind {
  kException,        // the function threw; what() carries its what()
  kBadArguments,     // the arguments did not match the function's signature
  kUnknownFunction,  // the module exports no such function
  kModule,           // the module could not be fetched or loaded on the worker
  kCrashed,          // its executor or worker died on every attempt
  kTimedOut,         // ran longer than TaskOptions::timeout
  kCancelled,        // cancelled, or a service stopped
  kNoWorker,         // no worker took it within TaskOptions::wait
  kRejected,         // the manager refused it (size limits, bad module)
  kRefused,          // the key this client connected with may not do it (its role)
};
const char* to_string(ErrorKind kind);

// A task that ran and failed, thrown by Future::get().
class TaskError : public Error {
 public:
  TaskError(ErrorKind kind, const std::string& what, WorkerInfo worker)
      : Error(what), kind_(kind), worker_(std::move(worker)) {}
  ErrorKind kind() const { return kind_; }
  // The worker that reported the failure (empty if none ran it).
  const WorkerInfo& worker() const { return worker_; }

 private:
  ErrorKind kind_;
  WorkerInfo worker_;
};

// What cancelling a task (or stopping a service) by id did.
enum class CancelResult {
  kCancelled,  // it had not started: it ended cancelled
  kStopping,   // it was running: its worker was told to stop it
  kDone,       // it had already finished
  kUnknown,    // no such task now: never submitted, or finished and its result delivered
};

// A value as msgpack bytes, for callers that do not know its C++ type (the
// `uni` CLI, bindings to other languages): the arguments of an untyped call
// are one msgpack array; Future<Msgpack>::get() gives a result's bytes
// undecoded (checked to be one well-formed msgpack value).
struct Msgpack {
  std::string bytes;
};

// Whether `id` is a task id as Future::id() prints it ("<session>-<seq>").
bool valid_task_id(const std::string& id);

// ---- options --------------------------------------------------------------------

struct ConnectOptions {
  // A client key file written by `uni keygen` (NAME.secret), for a manager
  // started with --clients: the client connects as that key, with its role
  // (docs/security.md). A file others may read is refused. Empty: $UNI_KEY
  // if no authkey is given below.
  std::string key_file;
  // The shared secret. Empty: authkey_file, then $UNI_KEY (a key file, as
  // above), then $UNI_AUTHKEY, then the key file `uni manager` creates
  // (~/.config/uni/authkey). A key file and an authkey together are an error.
  std::string authkey;
  std::string authkey_file;
  // Give up connecting (ConnectError) after this long.
  std::chrono::milliseconds connect_timeout{5000};
  // What the boss waits for, when it waits long: tasks that wait for a worker
  // that is not there (from the manager), a manager that went silent or away
  // and the boss waiting for it to come back, a manager whose queue is full.
  // Called on the client's I/O thread. Default: printed to stderr.
  std::function<void(const std::string&)> on_notice;
  // Backpressure: at most this many tasks of this client may be unfinished;
  // a submission beyond it blocks until one finishes ...
  std::size_t max_outstanding = 1'000'000;
  // ... for at most this long (0: as long as it takes), then throws uni::Error.
  std::chrono::milliseconds submit_timeout{0};
};

struct TaskOptions {
  std::chrono::milliseconds timeout{0};  // run-time limit; 0 = none
  std::chrono::milliseconds wait{0};     // limit on waiting for a worker; 0 = none
  int max_attempts = 3;                  // runs lost to crashes before giving up; 1 = never rerun
};

// ---- internals the templates below need ------------------------------------------

namespace detail {
struct TaskState;
struct ModuleInfo;

struct FunctionRef {
  std::shared_ptr<const ModuleInfo> module;
  std::string name;
};

// A service asks for the manager's word when it starts (wait_started_for);
// a detached one outlives its boss.
std::shared_ptr<TaskState> submit(Client& client, const FunctionRef& fn, std::string args,
                                  const TaskOptions& options, bool service, bool detached = false);
void wait(const TaskState& state);
bool wait_for(const TaskState& state, std::chrono::nanoseconds timeout);
// Until the service runs on its worker, or the task has finished.
bool wait_started_for(const TaskState& state, std::chrono::nanoseconds timeout);
bool failed(const TaskState& state);  // finished, with a status other than ok
// The msgpack bytes of the result; throws TaskError if the task failed.
const std::string& result_bytes(const TaskState& state);
WorkerInfo worker_of(const TaskState& state);
std::string id_of(const TaskState& state);
void cancel(Client& client, const TaskState& state);
FunctionRef resolve_function(Client& client, const void* address);
FunctionRef module_function(Client& client, const std::string& path, const std::string& name);
::uni::BecomeResult become(Client& client, const std::string& service_id, const FunctionRef& fn,
                           std::chrono::milliseconds timeout);
[[noreturn]] void throw_result_mismatch(const std::string& type, const std::string& error);
[[noreturn]] void throw_invalid_future();

template <class R>
R decode_result(const std::string& bytes) {
  if constexpr (std::is_same_v<R, Msgpack>) {
    if (std::string error = check_msgpack(bytes.data(), bytes.size()); !error.empty())
      throw_result_mismatch("msgpack", error);
    return Msgpack{bytes};
  } else if constexpr (std::is_void_v<R>) {
    unpack_checked(bytes.data(), bytes.size());
    return;
  } else {
    msgpack::object_handle handle = unpack_checked(bytes.data(), bytes.size());
    R value{};
    std::string error;
    if (!Codec<R>::decode(handle.get(), value, error)) throw_result_mismatch(type_name<R>(), error);
    return value;
  }
}

template <class... Params, class... A>
std::string pack_arguments(A&&... args) {
  static_assert(sizeof...(Params) == sizeof...(A), "wrong number of arguments for this function");
  PackBuffer buffer;
  Packer packer(buffer);
  packer.pack_array(sizeof...(A));
  // Convert to the parameter type first, so that 2 for a double travels as a
  // double and "x" for a std::string as a string.
  (packer.pack(static_cast<std::remove_cvref_t<Params>>(std::forward<A>(args))), ...);
  return std::move(buffer.data);
}
}  // namespace detail

// ---- results ----------------------------------------------------------------------

// The result of a task, available once a worker has run it. A Future made
// by Future() (or moved from) refers to no task: valid() is false, and every
// other member throws uni::Error saying so. A Future keeps the connection it
// came from open (see Lifetime above); copies refer to the same task.
template <class R>
class Future {
 public:
  Future() = default;

  // Waits for the task and returns its result. Throws TaskError if it failed,
  // uni::Error if the result does not decode as R. May be called again.
  R get() const {
    detail::wait(state());
    return detail::decode_result<R>(detail::result_bytes(state()));
  }

  // Waits until the task has finished (succeeded or failed); never throws
  // for a failed task — get() does.
  void wait() const { detail::wait(state()); }

  // Waits at most `timeout`. Returns true if the task has finished.
  template <class Rep, class Period>
  bool wait_for(std::chrono::duration<Rep, Period> timeout) const {
    return detail::wait_for(state(), std::chrono::duration_cast<std::chrono::nanoseconds>(timeout));
  }

  // Whether the task has finished, without waiting.
  bool ready() const { return detail::wait_for(state(), std::chrono::nanoseconds(0)); }

  // Whether the task has finished and failed (get() throws TaskError),
  // without waiting: false while it runs and once it has succeeded. For
  // counting failures among many tasks without taking their results.
  bool failed() const { return detail::failed(state()); }

  // The worker and process that ran the task (waits for it).
  WorkerInfo worker() const {
    detail::wait(state());
    return detail::worker_of(state());
  }

  // The task id, as `uni stop` takes it.
  std::string id() const { return detail::id_of(state()); }

  // Drops the task if it is still queued, stops it if it is running (under
  // process isolation). get() then throws TaskError(kCancelled).
  void cancel() const {
    const detail::TaskState& task = state();  // first: an empty Future has no client either
    detail::cancel(*client_, task);
  }

  // False for a default-constructed or moved-from Future.
  bool valid() const { return state_ != nullptr; }

 private:
  template <class>
  friend class RemoteFunction;
  template <class>
  friend class Service;
  friend class Cluster;
  Future(std::shared_ptr<detail::Client> client, std::shared_ptr<detail::TaskState> state)
      : client_(std::move(client)), state_(std::move(state)) {}
  const detail::TaskState& state() const {
    if (!state_) detail::throw_invalid_future();
    return *state_;
  }
  std::shared_ptr<detail::Client> client_;
  std::shared_ptr<detail::TaskState> state_;
};

// Waits for every future and returns their results in order. If one throws
// (in order of the futures: the first that failed among those waited for),
// the others that have not finished are cancelled — nobody will take their
// results — and the exception is rethrown.
template <class R>
std::vector<R> gather(const std::vector<Future<R>>& futures) {
  std::vector<R> out;
  out.reserve(futures.size());
  try {
    for (const auto& f : futures) out.push_back(f.get());
  } catch (...) {
    for (const auto& f : futures)
      if (f.valid() && !f.ready()) f.cancel();
    throw;
  }
  return out;
}

// A long-running task that occupies its worker slot until it returns or is
// stopped (the "become" of the universal server).
template <class R>
class Service {
 public:
  // Stops the service: its executor is killed and its slot freed.
  void stop() const { future_.cancel(); }
  // Waits for the service to return and gives its result; throws
  // TaskError(kCancelled) if it was stopped.
  R get() const { return future_.get(); }
  std::string id() const { return future_.id(); }
  const Future<R>& future() const { return future_; }

  // Waits at most `timeout` for its worker to report it running. True once
  // it runs, or once it has ended (get() says how); false if neither yet
  // (no worker free, or none for its platform).
  template <class Rep, class Period>
  bool wait_started_for(std::chrono::duration<Rep, Period> timeout) const {
    return detail::wait_started_for(future_.state(),
                                    std::chrono::duration_cast<std::chrono::nanoseconds>(timeout));
  }

 private:
  friend class Cluster;
  explicit Service(Future<R> future) : future_(std::move(future)) {}
  Future<R> future_;
};

template <class Signature>
class RemoteFunction;

// A function of a module, callable on the cluster: each call is a task.
template <class R, class... Args>
class RemoteFunction<R(Args...)> {
 public:
  using Result = R;

  template <class... A>
  Future<R> operator()(A&&... args) const {
    return submit(detail::pack_arguments<Args...>(std::forward<A>(args)...), false);
  }

  // The same function with other task options.
  RemoteFunction with(TaskOptions options) const {
    RemoteFunction copy = *this;
    copy.options_ = options;
    return copy;
  }

  const std::string& name() const { return fn_.name; }

 private:
  friend class Cluster;
  RemoteFunction(std::shared_ptr<detail::Client> client, detail::FunctionRef fn,
                 TaskOptions options)
      : client_(std::move(client)), fn_(std::move(fn)), options_(options) {}

  Future<R> submit(std::string args, bool service) const {
    return Future<R>(client_, detail::submit(*client_, fn_, std::move(args), options_, service));
  }

  std::shared_ptr<detail::Client> client_;
  detail::FunctionRef fn_;
  TaskOptions options_;
};

// ---- the cluster --------------------------------------------------------------------

struct WorkerStatus {
  std::string id, host, platform, isolation;
  std::uint32_t pid = 0, slots = 0, busy = 0;  // busy: executing now
  std::uint64_t assigned = 0;                  // held by it, prefetched ones included
  std::uint32_t capacity = 0;                  // tasks it may hold now (its credit)
  std::uint64_t last_seen_ms = 0;              // since the manager last heard from it
  // 0 from a manager older than these fields.
  std::uint64_t completed = 0;         // its tasks that ended ok
  std::uint64_t failed = 0;            // its tasks that failed, and runs lost to crashes
  std::uint64_t heartbeat_age_ms = 0;  // since its last heartbeat
  std::uint64_t uptime_ms = 0;         // since it joined (or rejoined)
  // Why it takes no tasks now (e.g. its module cache cannot be written);
  // empty while it does.
  std::string note;
  // What its executors run beyond its platform's modules: "python311" for
  // Python functions (docs/python.md). Empty from an older manager.
  std::vector<std::string> capabilities;
};

struct ServiceStatus {
  std::string id, worker, function;
  // "queued" (waiting for a worker; `worker` is empty), "starting" (sent to
  // its worker), "running", or "stopping" (asked to stop, not yet ended).
  std::string state;
  std::string host;             // its worker's
  bool started = false;         // its worker has reported it executing
  std::uint64_t uptime_ms = 0;  // since its worker reported it running; 0 until then
  std::string module;           // the hash (hex) of the module it runs
  std::uint32_t becomes = 0;    // how often it took on new code (Cluster::become)
};

// A task that ended with an error, as the manager remembers it.
struct FailureStatus {
  std::string id, function;
  std::string status;        // how it ended, as to_string(ErrorKind) spells it: "exception", ...
  std::string error;         // its message, cut to 400 bytes
  std::string worker;        // empty if it never reached one
  std::uint64_t age_ms = 0;  // since it ended
};

// A stream of the broker's (NATS JetStream: uni's streams and buckets) and
// its copies: `replicas` kept, `current` of them live and up to date now.
struct StreamStatus {
  std::string name;
  std::uint32_t replicas = 0, current = 0;
};

// What Cluster::become did.
struct BecomeResult {
  // From the old version's hand_over() to the new version's take_over():
  // the time in which the service answered nobody.
  std::chrono::nanoseconds handover{0};
  std::uint32_t becomes = 0;  // the service's becomes, this one included
};

// Fields a manager older than this header does not send are 0 or empty.
struct ClusterStatus {
  std::vector<WorkerStatus> workers;  // oldest first
  std::uint64_t queued = 0;
  std::uint64_t running = 0;
  std::vector<ServiceStatus> services;
  std::string manager;  // the manager's run id (changes when it restarts); "nats" on NATS
  std::string version;  // its uni release
  std::string endpoint;
  std::uint64_t waiting_for_module = 0;  // tasks waiting for their module's upload
  std::uint64_t assigned = 0;            // tasks held by workers
  std::uint64_t bosses = 0;              // connected
  struct Totals {
    std::uint64_t submitted = 0, completed = 0, failed = 0, requeued = 0;
    std::uint64_t modules = 0, module_bytes = 0;  // stored now
    std::uint64_t module_uploads = 0, module_upload_bytes = 0;
    std::uint64_t module_fetches = 0, module_fetch_bytes = 0;
    std::uint64_t cancelled = 0;     // ended cancelled (stopped, not failed: not in `failed`)
    std::uint64_t kept_results = 0;  // results held for `uni result` (uni/detached.hpp)
  } totals;
  std::uint64_t uptime_ms = 0;                 // the manager's
  double tasks_per_s = 0;                      // tasks finished per second over the last 10 s
  std::vector<FailureStatus> recent_failures;  // most recent first, at most 20
  // The manager's bounds (docs/security.md section 8). Zeros from an older
  // manager, and on NATS.
  struct Limits {
    std::uint64_t descriptors = 0, descriptor_limit = 0;   // open now, and the most it may open
    std::uint64_t connections = 0;                         // TCP connections to its port
    std::uint64_t queued_bytes = 0, max_queued_bytes = 0;  // held by tasks; --max-queued-bytes
    std::uint64_t assembling_bytes = 0;  // large messages being received in pieces
    // How often each limit refused something since the manager started, by
    // name ("too-large", "queue-full", ...; docs/security.md section 8).
    std::vector<std::pair<std::string, std::uint64_t>> refused;
  } limits;
  // On NATS: uni's streams, and whether the cluster can lose any one node
  // now with every stream still keeping a quorum of its replicas. Empty and
  // false from a manager (one process: it has no replicas).
  std::vector<StreamStatus> streams;
  bool survives_node_loss = false;
  // The broker that answered, as the connection knows it (not sent by it,
  // not in to_json): its kind ("manager", "NATS cluster") and whether a
  // manager runs. Without one (NATS) there is no uptime, the totals are the
  // live workers' and bosses', and results are kept by the cluster.
  std::string broker = "manager";
  bool has_manager = true;
};

// The status as one JSON object, the keys of `uni status --json`
// (docs/protocol.md, STATUS_REPLY).
std::string to_json(const ClusterStatus& status);

// A connection to a cluster, made by connect(). Copies share the connection
// (see Lifetime above); every member may be called from any thread.
class Cluster {
 public:
  // `fn` must be a function of a module this program links, marked with
  // UNI_EXPORT there. Throws ModuleError if it is not.
  template <class R, class... Args>
  RemoteFunction<R(Args...)> remote(R (*fn)(Args...), TaskOptions options = {}) const {
    return {client_, detail::resolve_function(*client_, reinterpret_cast<const void*>(fn)),
            options};
  }

  // The same for a service that can become new code (uni/service.hpp): its
  // ServiceContext is not an argument, so fn(ctx, port) is called as (port).
  template <class R, class... Args>
  RemoteFunction<R(Args...)> remote(R (*fn)(ServiceContext&, Args...),
                                    TaskOptions options = {}) const {
    return {client_, detail::resolve_function(*client_, reinterpret_cast<const void*>(fn)),
            options};
  }

  // A function of a module file, by name. The signature is the caller's
  // promise; a mismatch is reported by the worker as a task error.
  template <class Signature>
  RemoteFunction<Signature> function(const std::string& module_path, const std::string& name,
                                     TaskOptions options = {}) const {
    return {client_, detail::module_function(*client_, module_path, name), options};
  }

  // One task per input, all submitted before any result is awaited. An input
  // is the single argument, or a std::tuple of the arguments.
  template <class R, class... Args, class Range>
  std::vector<Future<R>> map(const RemoteFunction<R(Args...)>& fn, const Range& inputs) const {
    std::vector<Future<R>> out;
    for (const auto& input : inputs) {
      if constexpr (requires { std::tuple_size<std::remove_cvref_t<decltype(input)>>::value; } &&
                    sizeof...(Args) != 1)
        out.push_back(std::apply(fn, input));
      else out.push_back(fn(input));
    }
    return out;
  }
  template <class R, class... Args, class Range>
  std::vector<Future<R>> map(R (*fn)(Args...), const Range& inputs,
                             TaskOptions options = {}) const {
    return map(remote(fn, options), inputs);
  }

  // Starts fn(args...) as a service on some worker.
  template <class R, class... Args, class... A>
  Service<R> spawn(const RemoteFunction<R(Args...)>& fn, A&&... args) const {
    return Service<R>(fn.submit(detail::pack_arguments<Args...>(std::forward<A>(args)...), true));
  }
  template <class R, class... Args, class... A>
  Service<R> spawn(R (*fn)(Args...), A&&... args) const {
    return spawn(remote(fn), std::forward<A>(args)...);
  }

  // Untyped: the function `name` of a module file, its arguments one msgpack
  // array; the result comes as msgpack bytes. The same checks as typed
  // calls, made by the worker: a mismatch is a TaskError(kBadArguments).
  Future<Msgpack> call(const std::string& module_path, const std::string& name, Msgpack args,
                       TaskOptions options = {}) const;

  // As call(), started as a service. A `detached` one outlives this program:
  // nobody takes its result, and it runs until it returns or is stopped by
  // id (cancel(), `uni stop`).
  Service<Msgpack> spawn(const std::string& module_path, const std::string& name, Msgpack args,
                         TaskOptions options = {}, bool detached = false) const;

  // Cancels tasks, or stops services, by id (Future::id(), `uni status`), of
  // any boss, and says what that did to each, in order. Throws uni::Error for
  // an id that is not one (valid_task_id), ConnectError if the manager does
  // not answer within 5 s or the connection drops first.
  std::vector<CancelResult> cancel(const std::vector<std::string>& ids) const;

  // Turns the running service `service_id` (Service::id(), `uni spawn`'s
  // output) into `function` of the module file, without a restart: the
  // running version hands its state and descriptors over and the new one,
  // loaded beside it in the same executor, takes them (uni/service.hpp).
  // Throws uni::Error with the reason if it did not happen — the service
  // refuses (its function takes no uni::ServiceContext&), the new function
  // is missing, has another signature or state type, or throws before it
  // takes over, or the service does not hand over within `timeout` — and
  // the service runs on as before; ModuleError if the file is no module;
  // ConnectError if no answer comes within 2 * timeout + 30 s.
  BecomeResult become(const std::string& service_id, const std::string& module_path,
                      const std::string& function,
                      std::chrono::milliseconds timeout = std::chrono::seconds(10)) const {
    return detail::become(*client_, service_id,
                          detail::module_function(*client_, module_path, function), timeout);
  }
  // The same with a function of a module this program links.
  template <class R, class... Args>
  BecomeResult become(const std::string& service_id, R (*new_fn)(ServiceContext&, Args...),
                      std::chrono::milliseconds timeout = std::chrono::seconds(10)) const {
    return detail::become(*client_, service_id,
                          detail::resolve_function(*client_, reinterpret_cast<const void*>(new_fn)),
                          timeout);
  }

  // Workers, queue and services as the manager sees them now. Throws
  // ConnectError if the manager does not answer within `wait` or the
  // connection drops first.
  ClusterStatus status(std::chrono::milliseconds wait = std::chrono::seconds(5)) const;

  // The manager's address.
  const std::string& address() const { return address_; }

  // Tasks submitted through this connection and not yet finished.
  std::size_t unfinished() const;

  // Tasks submitted through this connection that finished with anything but
  // a value (an exception, a crash, a timeout, a cancel, ...), counted as
  // their results arrive, whether or not their futures were read.
  std::size_t failed() const;

 private:
  friend Cluster connect(const std::string&, const ConnectOptions&);
  Cluster(std::shared_ptr<detail::Client> client, std::string address)
      : client_(std::move(client)), address_(std::move(address)) {}
  std::shared_ptr<detail::Client> client_;
  std::string address_;
};

// Connects to the manager at `address` ("tcp://host:port" or "host:port";
// empty: $UNI_CONNECT, else tcp://127.0.0.1:7070). Throws ConnectError when
// no manager answers or authentication fails — within connect_timeout — and
// uni::Error for a local problem: an authkey file that cannot be read or is
// empty.
Cluster connect(const std::string& address = "", const ConnectOptions& options = {});

}  // namespace uni
#pragma GCC visibility pop
