// The non-template half of uni/uni.hpp: connecting, futures, module lookup.
#include <dlfcn.h>

#include <cstdlib>

#include "client/client.hpp"
#include "uni/detail/module_abi.hpp"

namespace uni {

const char* to_string(ErrorKind kind) {
  // The wire's status names (one table, src/proto/status.cpp).
  switch (kind) {
    case ErrorKind::kException: return proto::status_name(proto::Status::kException);
    case ErrorKind::kBadArguments: return proto::status_name(proto::Status::kBadArguments);
    case ErrorKind::kUnknownFunction: return proto::status_name(proto::Status::kUnknownFunction);
    case ErrorKind::kModule: return proto::status_name(proto::Status::kModuleError);
    case ErrorKind::kCrashed: return proto::status_name(proto::Status::kCrashed);
    case ErrorKind::kTimedOut: return proto::status_name(proto::Status::kTimedOut);
    case ErrorKind::kCancelled: return proto::status_name(proto::Status::kCancelled);
    case ErrorKind::kNoWorker: return proto::status_name(proto::Status::kNoWorker);
    case ErrorKind::kRejected: return proto::status_name(proto::Status::kRejected);
  }
  return "unknown";
}

Cluster connect(const std::string& address, const ConnectOptions& options) {
  std::string target = address;
  if (target.empty()) {
    const char* env = std::getenv("UNI_CONNECT");
    target = env && *env ? env : "tcp://127.0.0.1:7070";
  }
  auto client = detail::Client::connect(target, options);
  std::string endpoint = client->endpoint();
  return Cluster(std::move(client), std::move(endpoint));
}

ClusterStatus Cluster::status() const {
  proto::StatusReport report = client_->status(std::chrono::milliseconds(5000));
  ClusterStatus out;
  for (const proto::StatusReport::Worker& w : report.workers) {
    WorkerStatus ws;
    ws.id = w.id;
    ws.host = w.host;
    ws.platform = w.platform;
    ws.isolation = w.isolation;
    ws.pid = w.pid;
    ws.slots = w.slots;
    ws.busy = static_cast<std::uint32_t>(w.busy);
    out.workers.push_back(std::move(ws));
  }
  out.queued = report.queue;
  out.running = report.running;
  for (const proto::StatusReport::Service& s : report.services)
    out.services.push_back(
        {s.id, s.worker, s.function, proto::service_state_name(s.state), s.module, s.becomes});
  return out;
}

namespace detail {

namespace {
ErrorKind kind_of(proto::Status status) {
  switch (status) {
    case proto::Status::kException: return ErrorKind::kException;
    case proto::Status::kBadArguments: return ErrorKind::kBadArguments;
    case proto::Status::kUnknownFunction: return ErrorKind::kUnknownFunction;
    case proto::Status::kModuleError: return ErrorKind::kModule;
    case proto::Status::kCrashed: return ErrorKind::kCrashed;
    case proto::Status::kTimedOut: return ErrorKind::kTimedOut;
    case proto::Status::kCancelled: return ErrorKind::kCancelled;
    case proto::Status::kNoWorker: return ErrorKind::kNoWorker;
    default: return ErrorKind::kRejected;
  }
}
}  // namespace

std::shared_ptr<TaskState> submit(Client& client, const FunctionRef& fn, std::string args,
                                  const TaskOptions& options, bool service) {
  return client.submit(fn.module, fn.name, std::move(args), options,
                       service ? proto::kFlagService : std::uint8_t{0});
}

void wait(const TaskState& state) {
  std::unique_lock lock(state.mutex);
  state.finished.wait(lock, [&] { return state.done; });
}

bool wait_for(const TaskState& state, std::chrono::nanoseconds timeout) {
  std::unique_lock lock(state.mutex);
  return state.finished.wait_for(lock, timeout, [&] { return state.done; });
}

const std::string& result_bytes(const TaskState& state) {
  std::lock_guard lock(state.mutex);
  const proto::Result& r = state.result;
  if (r.status == proto::Status::kOk) return r.payload;
  throw TaskError(kind_of(r.status), r.payload, WorkerInfo{r.worker, r.host, r.pid});
}

WorkerInfo worker_of(const TaskState& state) {
  std::lock_guard lock(state.mutex);
  return WorkerInfo{state.result.worker, state.result.host, state.result.pid};
}

std::string id_of(const TaskState& state) { return state.task.id.str(); }

void cancel(Client& client, const TaskState& state) { client.cancel_async(state.task.id); }

FunctionRef resolve_function(Client& client, const void* address) {
  Dl_info info{};
  if (!::dladdr(address, &info) || !info.dli_fname)
    throw ModuleError("cannot find the module of this function (dladdr failed)");
  std::string path = info.dli_fname;
  std::string symbol = info.dli_sname ? info.dli_sname : "the function";
  // The module's table names each export and its address; match the address.
  void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_NOLOAD);
  if (!handle)
    throw ModuleError(symbol + " lives in " + path +
                      ", which is not a shared object: functions to run remotely must live in a "
                      "module (uni_add_module)");
  auto entry = reinterpret_cast<uni_module_entry_fn>(::dlsym(handle, UNI_MODULE_ENTRY_SYMBOL));
  std::string name;
  if (entry)
    if (const uni_module_table* table = entry())
      for (std::size_t i = 0; i < table->count; ++i)
        if (table->exports[i].address == address) name = table->exports[i].name;
  ::dlclose(handle);
  if (!entry) throw ModuleError(path + " is not a uni module: it does not include uni/module.hpp");
  if (name.empty())
    throw ModuleError(symbol + " in " + path + " is not exported: add UNI_EXPORT(...) for it");
  return FunctionRef{client.module_file(path), name};
}

FunctionRef module_function(Client& client, const std::string& path, const std::string& name) {
  return FunctionRef{client.module_file(path), name};
}

void throw_result_mismatch(const std::string& type, const std::string& error) {
  throw Error("the task's result does not decode as " + type + ": " + error);
}

void throw_invalid_future() {
  throw Error(
      "this uni::Future refers to no task (default-constructed or moved from): get one from a "
      "call such as cluster.remote(fn)(args...)");
}

}  // namespace detail
}  // namespace uni
