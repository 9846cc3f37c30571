// The words of the protocol's control replies: how a task ended (Status),
// what a cancel did (CancelState), where a service is (ServiceState), each
// with its one table of names (name <-> enum); and the typed STATUS_REPLY
// (StatusReport), whose wire keys live only in status.cpp (docs/protocol.md 7.13).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "uni/detail/msgpack_check.hpp"

namespace uni::proto {

// How a task ended. The numbers are part of the protocol.
enum class Status : std::uint8_t {
  kOk = 0,
  kException = 1,        // the function threw
  kBadArguments = 2,     // arguments did not match the signature
  kUnknownFunction = 3,  // the module has no such export
  kModuleError = 4,      // the module could not be fetched or loaded
  kCrashed = 5,          // executor or worker died, attempts exhausted
  kTimedOut = 6,
  kCancelled = 7,
  kNoWorker = 8,  // waited longer than its wait limit for a worker
  kRejected = 9,  // the manager refused it (limits, missing module)
  // Not final, never reaches a boss's future:
  kHandedBack = 10,  // worker -> manager: a draining worker returns it unstarted or interrupted
  kQueueFull = 11,   // manager -> boss: not accepted now, submit again later (backpressure)
  // Final again: the key this boss connected with may not submit (its role),
  // or the task's id belongs to another key's session (docs/security.md).
  kRefused = 12,
};
inline constexpr Status kLastStatus = Status::kRefused;
const char* status_name(Status status);  // "ok", "exception", "bad-arguments", ...
std::optional<Status> status_from_name(std::string_view name);
bool is_retryable(Status status);  // kCrashed from a worker: the manager may requeue
bool is_final(Status status);      // false for kHandedBack and kQueueFull

// What the manager did with one id of a CANCEL (CANCEL_REPLY).
enum class CancelState : std::uint8_t {
  kCancelled,  // it had not started: it ended `cancelled`
  kStopping,   // it runs on a worker, which was told to stop it
  kDone,       // it had already finished
  kUnknown,    // no such task
};
const char* cancel_state_name(CancelState state);  // "cancelled", "stopping", "done", "unknown"
std::optional<CancelState> cancel_state_from_name(std::string_view name);

// Where a service (a task with the service flag) is, as STATUS_REPLY lists it.
enum class ServiceState : std::uint8_t {
  kQueued,    // not assigned to a worker
  kStarting,  // assigned, not yet reported executing
  kRunning,
  kStopping,  // cancelled, not yet ended
};
const char* service_state_name(ServiceState state);  // "queued", "starting", ...
std::optional<ServiceState> service_state_from_name(std::string_view name);

// STATUS_REPLY's map, typed. Field for field the map of docs/protocol.md 7.13.
struct StatusReport {
  struct Worker {
    std::string id, host;
    std::uint32_t pid = 0;  // the supervisor's
    std::uint32_t slots = 0;
    std::uint64_t busy = 0;      // executing, as its last HEARTBEAT said (at most `assigned`)
    std::uint64_t assigned = 0;  // held by it, prefetched ones included
    std::uint32_t capacity = 0;  // its current credit
    std::string platform, isolation;
    std::uint64_t last_seen_ms = 0;
    // Added with the dashboard; 0 from an older manager.
    std::uint64_t completed = 0;         // its tasks that ended ok
    std::uint64_t failed = 0;            // its tasks that failed, and runs lost to crashes
    std::uint64_t heartbeat_age_ms = 0;  // since its last HEARTBEAT
    std::uint64_t uptime_ms = 0;         // since it joined (or rejoined)
    // Why it takes no tasks (its module cache is unusable); empty when it
    // does, and from an older manager.
    std::string note;
    // What its executors run beyond its platform's modules ("python311":
    // Python functions, docs/python.md); empty from an older manager.
    std::vector<std::string> capabilities;
  };
  struct Service {
    std::string id;  // printed task id
    ServiceState state = ServiceState::kQueued;
    bool started = false;  // its worker has reported it executing
    std::string worker, host, function;
    std::uint64_t uptime_ms = 0;  // since its worker reported it running; 0 until then
    // Its module (hex hash) and how often it took on new code (BECOME).
    // Older managers send neither: empty and 0.
    std::string module;
    std::uint32_t becomes = 0;
  };
  struct Totals {
    std::uint64_t submitted = 0, completed = 0, failed = 0, requeued = 0;
    std::uint64_t modules = 0, module_bytes = 0;  // stored now
    std::uint64_t module_uploads = 0, module_upload_bytes = 0;
    std::uint64_t module_fetches = 0, module_fetch_bytes = 0;
    // Ended `cancelled`: not counted in `failed` (from an older manager, they are).
    std::uint64_t cancelled = 0;
    // Results the manager keeps for `uni result` (kFlagKeepResult); 0 from
    // an older manager.
    std::uint64_t kept_results = 0;
  };
  // A task that ended with a status other than ok, most recent first.
  struct Failure {
    std::string id, function;
    std::string status;  // status_name()
    std::string error;   // its payload, cut to kFailureErrorBytes
    std::string worker;  // empty if it never reached one
    std::uint64_t age_ms = 0;
  };
  static constexpr std::size_t kFailureErrorBytes = 400;
  // The manager's bounds (docs/security.md §8): what it holds against its
  // limits, and how often each limit refused something since it started.
  // An older manager sends none: zeros and an empty list.
  struct Limits {
    std::uint64_t descriptors = 0, descriptor_limit = 0;   // open now; RLIMIT_NOFILE
    std::uint64_t connections = 0;                         // TCP connections to its port
    std::uint64_t queued_bytes = 0, max_queued_bytes = 0;  // what tasks hold; --max-queued-bytes
    std::uint64_t assembling_bytes = 0;  // large messages being received in chunks
    // By limit name ("too-large", "queue-full", ...), in a fixed order.
    std::vector<std::pair<std::string, std::uint64_t>> refused;
  };
  // A stream of a broker that keeps replicas (NATS JetStream).
  struct Stream {
    std::string name;
    std::uint32_t replicas = 0, current = 0;  // kept; live and up to date now
  };

  std::string manager;  // run id, as in WELCOME
  std::string version;
  std::string endpoint;
  std::vector<Worker> workers;  // oldest first
  std::uint64_t queue = 0;      // tasks queued for a worker
  std::uint64_t waiting_for_module = 0;
  std::uint64_t running = 0;      // sum of the workers' busy
  std::uint64_t assigned = 0;     // tasks assigned to workers
  std::vector<Service> services;  // by id
  std::uint64_t bosses = 0;       // connected
  Totals totals;
  // Added with the dashboard; 0 or empty from an older manager.
  std::uint64_t uptime_ms = 0;
  double tasks_per_s = 0;                // tasks finished per second over the last 10 s
  std::vector<Failure> recent_failures;  // at most 20
  Limits limits;
  // Only from a broker that keeps replicas (NATS; never on the wire from a
  // manager): its streams, and whether it can lose any one node now.
  std::vector<Stream> streams;
  bool survives_node_loss = false;
};

// The report as the msgpack map STATUS_REPLY carries (the same bytes, key
// for key, as the manager has always sent).
std::string pack_status_report(const StatusReport& report);
// Reads the map; throws DecodeError naming a missing or mistyped key. Keys it
// does not know are ignored (a newer manager may add some).
StatusReport read_status_report(const msgpack::object& map);

}  // namespace uni::proto
