// Name tables of statuses and states, and the STATUS_REPLY map (status.hpp).
#include "proto/status.hpp"

#include <array>
#include <utility>

#include "proto/messages.hpp"

namespace uni::proto {

namespace {

// One table per enum: names are read and written through these only.
template <class Enum, std::size_t N>
using NameTable = std::array<std::pair<Enum, std::string_view>, N>;

constexpr NameTable<Status, 13> kStatusNames{{
    {Status::kOk, "ok"},
    {Status::kException, "exception"},
    {Status::kBadArguments, "bad-arguments"},
    {Status::kUnknownFunction, "unknown-function"},
    {Status::kModuleError, "module-error"},
    {Status::kCrashed, "crashed"},
    {Status::kTimedOut, "timed-out"},
    {Status::kCancelled, "cancelled"},
    {Status::kNoWorker, "no-worker"},
    {Status::kRejected, "rejected"},
    {Status::kHandedBack, "handed-back"},
    {Status::kQueueFull, "queue-full"},
    {Status::kRefused, "refused"},
}};

constexpr NameTable<CancelState, 4> kCancelStateNames{{
    {CancelState::kCancelled, "cancelled"},
    {CancelState::kStopping, "stopping"},
    {CancelState::kDone, "done"},
    {CancelState::kUnknown, "unknown"},
}};

constexpr NameTable<ServiceState, 4> kServiceStateNames{{
    {ServiceState::kQueued, "queued"},
    {ServiceState::kStarting, "starting"},
    {ServiceState::kRunning, "running"},
    {ServiceState::kStopping, "stopping"},
}};

template <class Enum, std::size_t N>
const char* name_in(const NameTable<Enum, N>& table, Enum value, const char* otherwise) {
  for (const auto& [v, name] : table)
    if (v == value) return name.data();  // the literals are NUL-terminated
  return otherwise;
}

template <class Enum, std::size_t N>
std::optional<Enum> value_in(const NameTable<Enum, N>& table, std::string_view name) {
  for (const auto& [v, n] : table)
    if (n == name) return v;
  return std::nullopt;
}

// The keys of the STATUS_REPLY map, in the order the manager writes them.
namespace key {
constexpr std::string_view kManager = "manager", kVersion = "version", kEndpoint = "endpoint",
                           kWorkers = "workers", kQueue = "queue",
                           kWaitingForModule = "waiting_for_module", kRunning = "running",
                           kAssigned = "assigned", kServices = "services", kBosses = "bosses",
                           kTotals = "totals";
// workers[]
constexpr std::string_view kId = "id", kHost = "host", kPid = "pid", kSlots = "slots",
                           kBusy = "busy", kCapacity = "capacity", kPlatform = "platform",
                           kIsolation = "isolation", kLastSeenMs = "last_seen_ms";
// services[] (also kId, kHost)
constexpr std::string_view kState = "state", kStarted = "started", kWorker = "worker",
                           kFunction = "function", kModule = "module", kBecomes = "becomes";
// totals
constexpr std::string_view kSubmitted = "submitted", kCompleted = "completed", kFailed = "failed",
                           kRequeued = "requeued", kModules = "modules",
                           kModuleBytes = "module_bytes", kModuleUploads = "module_uploads",
                           kModuleUploadBytes = "module_upload_bytes",
                           kModuleFetches = "module_fetches",
                           kModuleFetchBytes = "module_fetch_bytes";
// Added with the dashboard: appended after the keys above, and
// read as optional, so older and newer managers and clients mix.
constexpr std::string_view kHeartbeatAgeMs = "heartbeat_age_ms", kUptimeMs = "uptime_ms",
                           kCancelled = "cancelled", kKeptResults = "kept_results",
                           kTasksPerS = "tasks_per_s", kRecentFailures = "recent_failures",
                           kStatus = "status", kError = "error", kAgeMs = "age_ms";
// workers[]: only from a worker that takes no tasks, and why (optional).
constexpr std::string_view kNote = "note";
// workers[]: only from a worker with capabilities ("python311"), optional.
constexpr std::string_view kCapabilities = "capabilities";
constexpr std::uint32_t kMaxCapabilities = 8;  // as many as HELLO's also_platforms
// Added with the bounds on input: one map at the end.
constexpr std::string_view kLimits = "limits", kDescriptors = "descriptors",
                           kDescriptorLimit = "descriptor_limit", kConnections = "connections",
                           kQueuedBytes = "queued_bytes", kMaxQueuedBytes = "max_queued_bytes",
                           kAssemblingBytes = "assembling_bytes", kRefused = "refused";
// Only from a broker that keeps replicas (optional): streams[] of
// {name, replicas, current}, and whether it can lose a node.
constexpr std::string_view kStreams = "streams", kName = "name", kReplicas = "replicas",
                           kCurrent = "current", kSurvivesNodeLoss = "survives_node_loss";
}  // namespace key

[[noreturn]] void fail(const std::string& what) { throw DecodeError(what); }

// Looks keys up in one map of the report, naming the map in errors.
class Reader {
 public:
  Reader(const msgpack::object& o, std::string what) : what_(std::move(what)) {
    if (o.type != msgpack::type::MAP) fail(what_ + ": expected map, got " + detail::kind_name(o));
    map_ = &o.via.map;
  }
  // Fields added later (a service's module and becomes) may be missing.
  bool has(std::string_view key) const {
    for (std::uint32_t i = 0; i < map_->size; ++i) {
      const msgpack::object& k = map_->ptr[i].key;
      if (k.type == msgpack::type::STR && std::string_view(k.via.str.ptr, k.via.str.size) == key)
        return true;
    }
    return false;
  }
  const msgpack::object& get(std::string_view key) const {
    for (std::uint32_t i = 0; i < map_->size; ++i) {
      const msgpack::object& k = map_->ptr[i].key;
      if (k.type == msgpack::type::STR && std::string_view(k.via.str.ptr, k.via.str.size) == key)
        return map_->ptr[i].val;
    }
    fail(what_ + ": missing key " + std::string(key));
  }
  std::string str(std::string_view key) const {
    const msgpack::object& o = get(key);
    if (o.type != msgpack::type::STR) wrong(key, "string", o);
    return std::string(o.via.str.ptr, o.via.str.size);
  }
  std::uint64_t u64(std::string_view key) const {
    const msgpack::object& o = get(key);
    if (o.type != msgpack::type::POSITIVE_INTEGER) wrong(key, "unsigned integer", o);
    return o.via.u64;
  }
  std::uint32_t u32(std::string_view key) const {
    std::uint64_t v = u64(key);
    if (v > UINT32_MAX) fail(what_ + ": " + std::string(key) + " out of range");
    return static_cast<std::uint32_t>(v);
  }
  bool boolean(std::string_view key) const {
    const msgpack::object& o = get(key);
    if (o.type != msgpack::type::BOOLEAN) wrong(key, "boolean", o);
    return o.via.boolean;
  }
  const msgpack::object* find(std::string_view key) const {
    for (std::uint32_t i = 0; i < map_->size; ++i) {
      const msgpack::object& k = map_->ptr[i].key;
      if (k.type == msgpack::type::STR && std::string_view(k.via.str.ptr, k.via.str.size) == key)
        return &map_->ptr[i].val;
    }
    return nullptr;
  }
  // Keys a newer manager added: absent from an older one's map.
  std::uint64_t optional_u64(std::string_view key) const { return find(key) ? u64(key) : 0; }
  double optional_number(std::string_view key) const {
    const msgpack::object* o = find(key);
    if (!o) return 0;
    if (o->type == msgpack::type::FLOAT64 || o->type == msgpack::type::FLOAT32) return o->via.f64;
    if (o->type == msgpack::type::POSITIVE_INTEGER) return static_cast<double>(o->via.u64);
    wrong(key, "number", *o);
  }
  const msgpack::object& array(std::string_view key) const {
    const msgpack::object& o = get(key);
    if (o.type != msgpack::type::ARRAY) wrong(key, "array", o);
    return o;
  }

 private:
  [[noreturn]] void wrong(std::string_view key, const char* expected,
                          const msgpack::object& o) const {
    fail(what_ + ": " + std::string(key) + ": expected " + expected + ", got " +
         detail::kind_name(o));
  }
  std::string what_;
  const msgpack::object_map* map_ = nullptr;
};

}  // namespace

const char* status_name(Status status) { return name_in(kStatusNames, status, "unknown"); }
std::optional<Status> status_from_name(std::string_view name) {
  return value_in(kStatusNames, name);
}
bool is_retryable(Status status) { return status == Status::kCrashed; }
bool is_final(Status status) {
  return status != Status::kHandedBack && status != Status::kQueueFull;
}

const char* cancel_state_name(CancelState state) {
  return name_in(kCancelStateNames, state, "unknown");
}
std::optional<CancelState> cancel_state_from_name(std::string_view name) {
  return value_in(kCancelStateNames, name);
}

const char* service_state_name(ServiceState state) {
  return name_in(kServiceStateNames, state, "unknown");
}
std::optional<ServiceState> service_state_from_name(std::string_view name) {
  return value_in(kServiceStateNames, name);
}

std::string pack_status_report(const StatusReport& r) {
  msgpack::sbuffer buffer;
  msgpack::packer<msgpack::sbuffer> p(buffer);
  auto field = [&](std::string_view name, const auto& value) {
    p.pack(name);
    p.pack(value);
  };

  p.pack_map(r.streams.empty() ? 15 : 17);
  field(key::kManager, r.manager);
  field(key::kVersion, r.version);
  field(key::kEndpoint, r.endpoint);
  p.pack(key::kWorkers);
  p.pack_array(static_cast<std::uint32_t>(r.workers.size()));
  for (const StatusReport::Worker& w : r.workers) {
    p.pack_map(14 + (w.note.empty() ? 0 : 1) + (w.capabilities.empty() ? 0 : 1));
    field(key::kId, w.id);
    field(key::kHost, w.host);
    field(key::kPid, w.pid);
    field(key::kSlots, w.slots);
    field(key::kBusy, w.busy);
    field(key::kAssigned, w.assigned);
    field(key::kCapacity, w.capacity);
    field(key::kPlatform, w.platform);
    field(key::kIsolation, w.isolation);
    field(key::kLastSeenMs, w.last_seen_ms);
    field(key::kCompleted, w.completed);
    field(key::kFailed, w.failed);
    field(key::kHeartbeatAgeMs, w.heartbeat_age_ms);
    field(key::kUptimeMs, w.uptime_ms);
    if (!w.note.empty()) field(key::kNote, w.note);
    if (!w.capabilities.empty()) field(key::kCapabilities, w.capabilities);
  }
  field(key::kQueue, r.queue);
  field(key::kWaitingForModule, r.waiting_for_module);
  field(key::kRunning, r.running);
  field(key::kAssigned, r.assigned);
  p.pack(key::kServices);
  p.pack_array(static_cast<std::uint32_t>(r.services.size()));
  for (const StatusReport::Service& s : r.services) {
    p.pack_map(9);
    field(key::kId, s.id);
    field(key::kState, std::string_view(service_state_name(s.state)));
    field(key::kStarted, s.started);
    field(key::kWorker, s.worker);
    field(key::kHost, s.host);
    field(key::kFunction, s.function);
    field(key::kModule, s.module);
    field(key::kBecomes, s.becomes);
    field(key::kUptimeMs, s.uptime_ms);
  }
  field(key::kBosses, r.bosses);
  const StatusReport::Totals& t = r.totals;
  p.pack(key::kTotals);
  p.pack_map(12);
  field(key::kSubmitted, t.submitted);
  field(key::kCompleted, t.completed);
  field(key::kFailed, t.failed);
  field(key::kRequeued, t.requeued);
  field(key::kModules, t.modules);
  field(key::kModuleBytes, t.module_bytes);
  field(key::kModuleUploads, t.module_uploads);
  field(key::kModuleUploadBytes, t.module_upload_bytes);
  field(key::kModuleFetches, t.module_fetches);
  field(key::kModuleFetchBytes, t.module_fetch_bytes);
  field(key::kCancelled, t.cancelled);
  field(key::kKeptResults, t.kept_results);
  field(key::kUptimeMs, r.uptime_ms);
  field(key::kTasksPerS, r.tasks_per_s);
  p.pack(key::kRecentFailures);
  p.pack_array(static_cast<std::uint32_t>(r.recent_failures.size()));
  for (const StatusReport::Failure& f : r.recent_failures) {
    p.pack_map(6);
    field(key::kId, f.id);
    field(key::kFunction, f.function);
    field(key::kStatus, f.status);
    field(key::kError, f.error);
    field(key::kWorker, f.worker);
    field(key::kAgeMs, f.age_ms);
  }
  const StatusReport::Limits& l = r.limits;
  p.pack(key::kLimits);
  p.pack_map(7);
  field(key::kDescriptors, l.descriptors);
  field(key::kDescriptorLimit, l.descriptor_limit);
  field(key::kConnections, l.connections);
  field(key::kQueuedBytes, l.queued_bytes);
  field(key::kMaxQueuedBytes, l.max_queued_bytes);
  field(key::kAssemblingBytes, l.assembling_bytes);
  p.pack(key::kRefused);
  p.pack_map(static_cast<std::uint32_t>(l.refused.size()));
  for (const auto& [name, count] : l.refused) field(name, count);
  if (!r.streams.empty()) {
    p.pack(key::kStreams);
    p.pack_array(static_cast<std::uint32_t>(r.streams.size()));
    for (const StatusReport::Stream& st : r.streams) {
      p.pack_map(3);
      field(key::kName, st.name);
      field(key::kReplicas, st.replicas);
      field(key::kCurrent, st.current);
    }
    field(key::kSurvivesNodeLoss, r.survives_node_loss);
  }
  return std::string(buffer.data(), buffer.size());
}

StatusReport read_status_report(const msgpack::object& map) {
  Reader in(map, "STATUS_REPLY");
  StatusReport r;
  r.manager = in.str(key::kManager);
  r.version = in.str(key::kVersion);
  r.endpoint = in.str(key::kEndpoint);
  const msgpack::object& workers = in.array(key::kWorkers);
  for (std::uint32_t i = 0; i < workers.via.array.size; ++i) {
    Reader w(workers.via.array.ptr[i], "STATUS_REPLY worker");
    StatusReport::Worker& out = r.workers.emplace_back();
    out.id = w.str(key::kId);
    out.host = w.str(key::kHost);
    out.pid = w.u32(key::kPid);
    out.slots = w.u32(key::kSlots);
    out.busy = w.u64(key::kBusy);
    out.assigned = w.u64(key::kAssigned);
    out.capacity = w.u32(key::kCapacity);
    out.platform = w.str(key::kPlatform);
    out.isolation = w.str(key::kIsolation);
    out.last_seen_ms = w.u64(key::kLastSeenMs);
    out.completed = w.optional_u64(key::kCompleted);
    out.failed = w.optional_u64(key::kFailed);
    out.heartbeat_age_ms = w.optional_u64(key::kHeartbeatAgeMs);
    out.uptime_ms = w.optional_u64(key::kUptimeMs);
    if (w.has(key::kNote)) out.note = w.str(key::kNote);
    if (w.has(key::kCapabilities)) {
      const msgpack::object& list = w.array(key::kCapabilities);
      if (list.via.array.size > key::kMaxCapabilities)
        fail("STATUS_REPLY worker: at most " + std::to_string(key::kMaxCapabilities) +
             " capabilities");
      for (std::uint32_t c = 0; c < list.via.array.size; ++c) {
        const msgpack::object& name = list.via.array.ptr[c];
        if (name.type != msgpack::type::STR || name.via.str.size == 0 || name.via.str.size > 200)
          fail(
              "STATUS_REPLY worker: capabilities: expected non-empty strings of at most 200 bytes");
        out.capabilities.emplace_back(name.via.str.ptr, name.via.str.size);
      }
    }
  }
  r.queue = in.u64(key::kQueue);
  r.waiting_for_module = in.u64(key::kWaitingForModule);
  r.running = in.u64(key::kRunning);
  r.assigned = in.u64(key::kAssigned);
  const msgpack::object& services = in.array(key::kServices);
  for (std::uint32_t i = 0; i < services.via.array.size; ++i) {
    Reader s(services.via.array.ptr[i], "STATUS_REPLY service");
    StatusReport::Service& out = r.services.emplace_back();
    out.id = s.str(key::kId);
    std::string state = s.str(key::kState);
    auto known = service_state_from_name(state);
    if (!known) fail("STATUS_REPLY service: unknown state \"" + state + "\"");
    out.state = *known;
    out.started = s.boolean(key::kStarted);
    out.worker = s.str(key::kWorker);
    out.host = s.str(key::kHost);
    out.function = s.str(key::kFunction);
    out.uptime_ms = s.optional_u64(key::kUptimeMs);
    if (s.has(key::kModule)) out.module = s.str(key::kModule);
    if (s.has(key::kBecomes)) out.becomes = s.u32(key::kBecomes);
  }
  r.bosses = in.u64(key::kBosses);
  Reader t(in.get(key::kTotals), "STATUS_REPLY totals");
  r.totals.submitted = t.u64(key::kSubmitted);
  r.totals.completed = t.u64(key::kCompleted);
  r.totals.failed = t.u64(key::kFailed);
  r.totals.requeued = t.u64(key::kRequeued);
  r.totals.modules = t.u64(key::kModules);
  r.totals.module_bytes = t.u64(key::kModuleBytes);
  r.totals.module_uploads = t.u64(key::kModuleUploads);
  r.totals.module_upload_bytes = t.u64(key::kModuleUploadBytes);
  r.totals.module_fetches = t.u64(key::kModuleFetches);
  r.totals.module_fetch_bytes = t.u64(key::kModuleFetchBytes);
  r.totals.cancelled = t.optional_u64(key::kCancelled);
  r.totals.kept_results = t.optional_u64(key::kKeptResults);
  r.uptime_ms = in.optional_u64(key::kUptimeMs);
  r.tasks_per_s = in.optional_number(key::kTasksPerS);
  if (in.find(key::kRecentFailures)) {
    const msgpack::object& failures = in.array(key::kRecentFailures);
    for (std::uint32_t i = 0; i < failures.via.array.size; ++i) {
      Reader f(failures.via.array.ptr[i], "STATUS_REPLY failure");
      StatusReport::Failure& out = r.recent_failures.emplace_back();
      out.id = f.str(key::kId);
      out.function = f.str(key::kFunction);
      out.status = f.str(key::kStatus);
      out.error = f.str(key::kError);
      out.worker = f.str(key::kWorker);
      out.age_ms = f.u64(key::kAgeMs);
    }
  }
  if (const msgpack::object* limits = in.find(key::kLimits)) {
    Reader l(*limits, "STATUS_REPLY limits");
    r.limits.descriptors = l.optional_u64(key::kDescriptors);
    r.limits.descriptor_limit = l.optional_u64(key::kDescriptorLimit);
    r.limits.connections = l.optional_u64(key::kConnections);
    r.limits.queued_bytes = l.optional_u64(key::kQueuedBytes);
    r.limits.max_queued_bytes = l.optional_u64(key::kMaxQueuedBytes);
    r.limits.assembling_bytes = l.optional_u64(key::kAssemblingBytes);
    if (const msgpack::object* refused = l.find(key::kRefused)) {
      if (refused->type != msgpack::type::MAP) fail("STATUS_REPLY limits: refused: expected map");
      for (std::uint32_t i = 0; i < refused->via.map.size; ++i) {
        const msgpack::object_kv& kv = refused->via.map.ptr[i];
        if (kv.key.type != msgpack::type::STR || kv.val.type != msgpack::type::POSITIVE_INTEGER)
          fail("STATUS_REPLY limits: refused: expected names and counts");
        r.limits.refused.emplace_back(std::string(kv.key.via.str.ptr, kv.key.via.str.size),
                                      kv.val.via.u64);
      }
    }
  }
  if (in.find(key::kStreams)) {
    const msgpack::object& streams = in.array(key::kStreams);
    for (std::uint32_t i = 0; i < streams.via.array.size; ++i) {
      Reader st(streams.via.array.ptr[i], "STATUS_REPLY stream");
      StatusReport::Stream& out = r.streams.emplace_back();
      out.name = st.str(key::kName);
      out.replicas = st.u32(key::kReplicas);
      out.current = st.u32(key::kCurrent);
    }
    if (in.find(key::kSurvivesNodeLoss)) r.survives_node_loss = in.boolean(key::kSurvivesNodeLoss);
  }
  return r;
}

}  // namespace uni::proto
