// The non-template half of uni/uni.hpp: futures, module lookup, status
// (connecting to an address is the composition root's: app/connect.cpp).
#include <dlfcn.h>

#include <cstdlib>
#include <unordered_map>

#include "client/client.hpp"
#include "common/json_msgpack.hpp"
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
    case ErrorKind::kRefused: return proto::status_name(proto::Status::kRefused);
  }
  return "unknown";
}

namespace {

// Field for field, both ways: the wire's key names stay in one place
// (status.cpp), and to_json(ClusterStatus) prints what the manager sent. The
// public and the wire structs name their fields alike, so one template copies
// each kind either way.
template <class To, class From>
To same_totals(const From& t) {
  To out;
  out.submitted = t.submitted;
  out.completed = t.completed;
  out.failed = t.failed;
  out.requeued = t.requeued;
  out.modules = t.modules;
  out.module_bytes = t.module_bytes;
  out.module_uploads = t.module_uploads;
  out.module_upload_bytes = t.module_upload_bytes;
  out.module_fetches = t.module_fetches;
  out.module_fetch_bytes = t.module_fetch_bytes;
  out.cancelled = t.cancelled;
  out.kept_results = t.kept_results;
  return out;
}

template <class To, class From>
To same_worker(const From& w) {
  To out;
  out.id = w.id;
  out.host = w.host;
  out.platform = w.platform;
  out.isolation = w.isolation;
  out.pid = w.pid;
  out.slots = w.slots;
  out.busy = static_cast<decltype(out.busy)>(w.busy);
  out.assigned = w.assigned;
  out.capacity = w.capacity;
  out.last_seen_ms = w.last_seen_ms;
  out.completed = w.completed;
  out.failed = w.failed;
  out.heartbeat_age_ms = w.heartbeat_age_ms;
  out.uptime_ms = w.uptime_ms;
  out.note = w.note;
  return out;
}

// Everything but the state, whose type differs.
template <class To, class From>
To same_service(const From& s) {
  To out;
  out.id = s.id;
  out.worker = s.worker;
  out.function = s.function;
  out.host = s.host;
  out.started = s.started;
  out.uptime_ms = s.uptime_ms;
  out.module = s.module;
  out.becomes = s.becomes;
  return out;
}

template <class To, class From>
void copy_common(const From& in, To& out) {
  out.running = in.running;
  out.manager = in.manager;
  out.version = in.version;
  out.endpoint = in.endpoint;
  out.waiting_for_module = in.waiting_for_module;
  out.assigned = in.assigned;
  out.bosses = in.bosses;
  out.totals = same_totals<decltype(out.totals)>(in.totals);
  out.uptime_ms = in.uptime_ms;
  out.tasks_per_s = in.tasks_per_s;
  for (const auto& f : in.recent_failures)
    out.recent_failures.push_back({f.id, f.function, f.status, f.error, f.worker, f.age_ms});
  out.limits.descriptors = in.limits.descriptors;
  out.limits.descriptor_limit = in.limits.descriptor_limit;
  out.limits.connections = in.limits.connections;
  out.limits.queued_bytes = in.limits.queued_bytes;
  out.limits.max_queued_bytes = in.limits.max_queued_bytes;
  out.limits.assembling_bytes = in.limits.assembling_bytes;
  out.limits.refused = in.limits.refused;
  for (const auto& st : in.streams) out.streams.push_back({st.name, st.replicas, st.current});
  out.survives_node_loss = in.survives_node_loss;
}

ClusterStatus public_status(const proto::StatusReport& report) {
  ClusterStatus out;
  for (const proto::StatusReport::Worker& w : report.workers)
    out.workers.push_back(same_worker<WorkerStatus>(w));
  for (const proto::StatusReport::Service& s : report.services) {
    ServiceStatus& ss = out.services.emplace_back(same_service<ServiceStatus>(s));
    ss.state = proto::service_state_name(s.state);
  }
  out.queued = report.queue;
  copy_common(report, out);
  return out;
}

proto::StatusReport wire_status(const ClusterStatus& status) {
  proto::StatusReport out;
  for (const WorkerStatus& w : status.workers)
    out.workers.push_back(same_worker<proto::StatusReport::Worker>(w));
  for (const ServiceStatus& s : status.services) {
    proto::StatusReport::Service& ws =
        out.services.emplace_back(same_service<proto::StatusReport::Service>(s));
    ws.state = proto::service_state_from_name(s.state).value_or(proto::ServiceState::kQueued);
  }
  out.queue = status.queued;
  copy_common(status, out);
  return out;
}

CancelResult public_cancel(proto::CancelState state) {
  switch (state) {
    case proto::CancelState::kCancelled: return CancelResult::kCancelled;
    case proto::CancelState::kStopping: return CancelResult::kStopping;
    case proto::CancelState::kDone: return CancelResult::kDone;
    case proto::CancelState::kUnknown: return CancelResult::kUnknown;
  }
  return CancelResult::kUnknown;
}

}  // namespace

ClusterStatus Cluster::status(std::chrono::milliseconds wait) const {
  ClusterStatus out = public_status(client_->status(wait));
  const broker::BrokerIdentity& broker = client_->identity();
  out.broker = broker.kind;
  out.has_manager = broker.has_manager;
  return out;
}

std::string to_json(const ClusterStatus& status) {
  return msgpack_to_json(proto::pack_status_report(wire_status(status)));
}

bool valid_task_id(const std::string& id) { return proto::TaskId::parse(id).has_value(); }

Future<Msgpack> Cluster::call(const std::string& module_path, const std::string& name, Msgpack args,
                              TaskOptions options) const {
  detail::FunctionRef fn = detail::module_function(*client_, module_path, name);
  return Future<Msgpack>(client_,
                         detail::submit(*client_, fn, std::move(args.bytes), options, false));
}

Service<Msgpack> Cluster::spawn(const std::string& module_path, const std::string& name,
                                Msgpack args, TaskOptions options, bool detached) const {
  detail::FunctionRef fn = detail::module_function(*client_, module_path, name);
  return Service<Msgpack>(Future<Msgpack>(
      client_, detail::submit(*client_, fn, std::move(args.bytes), options, true, detached)));
}

std::vector<CancelResult> Cluster::cancel(const std::vector<std::string>& ids) const {
  std::vector<proto::TaskId> tasks;
  tasks.reserve(ids.size());
  for (const std::string& id : ids) {
    std::optional<proto::TaskId> task = proto::TaskId::parse(id);
    if (!task) throw Error("not a task id: " + id);
    tasks.push_back(*task);
  }
  std::vector<proto::CancelOutcome> outcomes =
      client_->cancel(tasks, std::chrono::milliseconds(5000));
  // By id, not a search per id: a Ctrl-C'd map of 30,000 tasks spent 5 s here.
  std::unordered_map<proto::TaskId, proto::CancelState, proto::TaskIdHash> by_id;
  by_id.reserve(outcomes.size());
  for (const proto::CancelOutcome& o : outcomes) by_id.emplace(o.id, o.state);
  std::vector<CancelResult> out(ids.size(), CancelResult::kUnknown);
  for (std::size_t i = 0; i < tasks.size(); ++i)
    if (auto it = by_id.find(tasks[i]); it != by_id.end()) out[i] = public_cancel(it->second);
  return out;
}

std::size_t Cluster::unfinished() const { return client_->outstanding(); }

std::size_t Cluster::failed() const { return client_->failed(); }

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
    case proto::Status::kRefused: return ErrorKind::kRefused;
    default: return ErrorKind::kRejected;
  }
}
}  // namespace

std::shared_ptr<TaskState> submit(Client& client, const FunctionRef& fn, std::string args,
                                  const TaskOptions& options, bool service, bool detached) {
  std::uint8_t flags = 0;
  if (service) flags |= proto::kFlagService | proto::kFlagStartedEvent;
  if (detached) flags |= proto::kFlagDetached;
  return client.submit(fn.module, fn.name, std::move(args), options, flags);
}

void wait(const TaskState& state) {
  std::unique_lock lock(state.mutex);
  state.finished.wait(lock, [&] { return state.done; });
}

bool wait_for(const TaskState& state, std::chrono::nanoseconds timeout) {
  std::unique_lock lock(state.mutex);
  // Future::ready() asks with no wait: a condition variable's wait on an
  // expired time still costs ~100 us, 3 s over the 30,000 futures of a map
  // that Ctrl-C cancels.
  if (state.done || timeout <= std::chrono::nanoseconds(0)) return state.done;
  return state.finished.wait_for(lock, timeout, [&] { return state.done; });
}

bool wait_started_for(const TaskState& state, std::chrono::nanoseconds timeout) {
  std::unique_lock lock(state.mutex);
  return state.finished.wait_for(lock, timeout, [&] { return state.done || state.started; });
}

bool failed(const TaskState& state) {
  std::lock_guard lock(state.mutex);
  return state.done && state.result.status != proto::Status::kOk;
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
