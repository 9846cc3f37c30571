// The uni wire protocol, version 1: message types and their fields, as
// specified in docs/protocol.md. Every message is one msgpack array
// [type, version, ...]; this file is the single place that knows the layout.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "common/hash.hpp"
#include "proto/status.hpp"

#include "uni/detail/msgpack_check.hpp"

namespace uni::proto {

inline constexpr std::uint32_t kVersion = 1;
// Batches of tasks or results are cut at about this size (a single item may
// be larger, up to half the message limit): a huge batch would hold the
// receiver's loop and its decoding memory for its whole length.
inline constexpr std::size_t kBatchBytes = 1 << 20;
// A worker's prefetch per free slot is at most this (docs/protocol.md 13.1):
// a worker never holds more than slots * (1 + kMaxPrefetchPerSlot) tasks,
// which bounds what its HELLO may re-announce.
inline constexpr std::uint32_t kMaxPrefetchPerSlot = 1024;

enum class Type : std::uint8_t {
  kHello = 1,
  kWelcome = 2,
  kError = 3,
  kHeartbeat = 4,
  kSubmit = 5,
  kNeedModule = 6,
  kPutModule = 7,
  kResult = 8,
  kAck = 9,
  kCancel = 10,
  kCancelReply = 11,
  kStatus = 12,
  kStatusReply = 13,
  kTasks = 14,
  kFetchModule = 15,
  kModule = 16,
  kCredit = 17,
  kNotice = 18,
  kBye = 19,
  kServiceStarted = 20,
  kBecome = 21,  // proto/become.hpp
  kBecomeReply = 22,
  kFetchResult = 23,  // proto/kept_result.hpp
  kKeptResult = 24,
  kChunk = 25,  // a piece of a message larger than a frame (proto/chunks.hpp)
};
inline constexpr Type kLastType = Type::kChunk;
const char* type_name(Type type);

// Thrown by every decoder on input that does not follow the protocol. The
// message says what was wrong and where; it is sent back to the peer.
class DecodeError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A task's identity: the submitting boss's random session id and its own
// sequence number. Printed as "<session in 16 hex digits>-<seq>".
struct TaskId {
  std::uint64_t session = 0;
  std::uint64_t seq = 0;
  auto operator<=>(const TaskId&) const = default;
  std::string str() const;
  static std::optional<TaskId> parse(std::string_view text);
};

struct TaskIdHash {
  std::size_t operator()(const TaskId& id) const noexcept {
    return static_cast<std::size_t>(id.session * 0x9E3779B97F4A7C15ull ^ id.seq);
  }
};

inline constexpr std::uint8_t kFlagService = 1;   // runs until it returns or is stopped
inline constexpr std::uint8_t kFlagDetached = 2;  // nobody waits: survives its boss, result dropped
// Sent again by a boss after a reconnect. A manager that has just started holds
// such tasks briefly, so that workers can re-announce what they still run and
// nothing is started twice.
inline constexpr std::uint8_t kFlagResubmitted = 4;
// The boss wants SERVICE_STARTED when the service's worker reports it
// executing (`uni spawn` waits for it). Bosses that do not set it never get
// the message.
inline constexpr std::uint8_t kFlagStartedEvent = 8;
// With kFlagDetached: the manager keeps the task's final result for a while
// after it ends, for anyone to read by id (FETCH_RESULT; `uni submit`,
// `uni result`). Without kFlagDetached the manager refuses the task.
inline constexpr std::uint8_t kFlagKeepResult = 16;

// SUBMIT element (boss -> manager) and TASKS element (manager -> worker).
struct Task {
  TaskId id;
  ModuleHash module;
  std::string function;
  std::string args;              // msgpack array
  std::uint32_t timeout_ms = 0;  // run-time limit, 0 = none
  std::uint32_t wait_ms = 0;     // queue-time limit, 0 = none (boss -> manager only)
  std::uint8_t max_attempts = 3;
  std::uint8_t flags = 0;
  std::uint8_t attempt = 1;  // which attempt this is (manager -> worker only)
};

// RESULT element. Worker -> manager: worker/host unset (the manager knows its
// sender). Manager -> boss: all fields.
struct Result {
  TaskId id;
  Status status = Status::kOk;
  std::string payload;  // kOk: msgpack value; otherwise UTF-8 error text
  std::string worker;
  std::string host;
  std::uint32_t pid = 0;
  std::uint8_t attempt = 1;
};

struct RunningTask {  // a worker's re-announcement after (re)connecting
  TaskId id;
  ModuleHash module;
  std::string function;
  std::uint8_t flags = 0;
  std::uint8_t attempt = 1;
  // digest_args(task.args): shows that the worker was sent the task, to a
  // manager that has no record of sending it (it restarted).
  std::optional<std::uint64_t> args_digest;
};

// SipHash-2-4 (libsodium crypto_shorthash) of a task's arguments under a
// fixed, public key: a fast digest, taken for every task a worker runs.
// What makes a claim hold is knowing the arguments, not the key.
std::uint64_t digest_args(std::string_view args);

struct Hello {
  std::string role;  // "boss" or "worker"
  // Random, per connecting process, never shown anywhere: a boss resumes its
  // session, and a worker reconnects as itself, only with the secret of its
  // first HELLO (docs/security.md). Empty from a peer that sends none.
  std::string secret;
  // boss
  std::uint64_t session = 0;
  // worker
  std::string worker_id;
  std::string host;
  std::uint32_t pid = 0;
  std::uint32_t slots = 0;
  std::uint32_t capacity = 0;
  std::string platform;
  // Platforms it serves beside `platform`: the same with a capability a
  // module may need ("...+python311"). Optional on the wire.
  std::vector<std::string> also_platforms;
  std::string isolation;
  std::vector<RunningTask> running;
};

struct Welcome {
  std::string manager_id;  // random per manager start: a change means it restarted
  std::string version;     // uni release
  std::uint32_t heartbeat_ms = 1000;
  std::uint64_t max_message = 0;
  std::uint64_t max_module = 0;
};

struct ErrorMessage {
  std::string code;  // "version", "malformed", "too-large", "hello-required", "refused"
  std::string text;
};

// What an ERROR "refused" answers (docs/protocol.md, ERROR): the message
// the manager would not act on, for the peer to fail what waits for it —
// the ids of a CANCEL or SUBMIT, the request id of a BECOME or FETCH_RESULT.
struct Refusal {
  Type type = Type::kHello;
  std::uint64_t request = 0;
  std::vector<TaskId> ids;
};

// Signatures of a module (common/signing.hpp), each 96 bytes: the signer's
// public key and its ed25519 signature of the module's hash. Optional last
// fields of PUT_MODULE and MODULE (docs/protocol.md 7.7, 7.16).
using ModuleSignatures = std::vector<std::string>;
inline constexpr std::size_t kMaxModuleSignatures = 16;

struct ModuleUpload {
  ModuleHash hash;
  std::string platform;
  std::string bytes;
  ModuleSignatures signatures;
};

struct ModuleReply {  // MODULE: bytes, or an error saying why not
  ModuleHash hash;
  std::optional<std::string> bytes;
  std::string error;
  ModuleSignatures signatures;
};

struct CancelOutcome {
  TaskId id;
  CancelState state = CancelState::kUnknown;

  CancelOutcome() = default;
  CancelOutcome(TaskId id, CancelState state) : id(id), state(state) {}
  // From the state's wire name ("cancelled", ...); throws DecodeError on another.
  CancelOutcome(TaskId id, std::string_view state_name);
};

// ---- encoding: each returns the whole message, ready to send -------------

std::string encode_hello(const Hello& hello);
std::string encode_welcome(const Welcome& welcome);
std::string encode_error(std::string_view code, std::string_view text);
// ERROR "refused": `text` says by whom and why ("refused: key 'w1' has role
// worker, which may not submit").
std::string encode_refusal(std::string_view text, const Refusal& refused);
// A random secret for a HELLO (Hello::secret): 16 bytes.
std::string new_hello_secret();
std::string encode_heartbeat();
// A worker's HEARTBEAT also says how many of its tasks are executing, and
// which services have started.
// `note`: why the worker takes no tasks (its module cache is unusable), or
// empty; sent as a third field only when not empty.
std::string encode_worker_heartbeat(std::uint32_t busy, const std::vector<TaskId>& services,
                                    std::string_view note = {});
std::string encode_submit(const std::vector<const Task*>& tasks);
std::string encode_tasks(const std::vector<const Task*>& tasks);
std::string encode_need_module(const ModuleHash& hash);
std::string encode_put_module(const ModuleHash& hash, std::string_view platform,
                              std::string_view bytes, const ModuleSignatures& signatures = {});
std::string encode_results(const std::vector<const Result*>& results);
std::string encode_ack(const std::vector<TaskId>& ids);
std::string encode_cancel(const std::vector<TaskId>& ids);
std::string encode_cancel_reply(const std::vector<CancelOutcome>& outcomes);
std::string encode_status_request();
std::string encode_status_reply(std::string_view packed_map);  // body: one msgpack map
std::string encode_status_reply(const StatusReport& report);
// The boss's services that its workers report executing (kFlagStartedEvent).
std::string encode_service_started(const std::vector<TaskId>& ids);
std::string encode_fetch_module(const ModuleHash& hash);
std::string encode_module(const ModuleHash& hash, const std::string* bytes, std::string_view error,
                          const ModuleSignatures& signatures = {});
std::string encode_credit(std::uint32_t capacity);
std::string encode_notice(std::string_view text);
std::string encode_bye(std::string_view reason);

// ---- decoding ------------------------------------------------------------

// The module hash a PUT_MODULE names, read from the message's first bytes
// alone ([7, 1, bin 32, ...]): the manager fails the waiting tasks of an
// upload it refused unread (too large). Nullopt for anything else.
std::optional<ModuleHash> put_module_hash(std::string_view head);

// One task record (SUBMIT, TASKS), as Message::tasks() reads each; throws
// DecodeError naming the field at fault.
Task decode_task(const msgpack::object& record);
// One result record (docs/protocol.md 8.3), written and read as RESULT does.
void pack_result(msgpack::packer<msgpack::sbuffer>& packer, const Result& result);
Result decode_result(const msgpack::object& record);

// Records one list message may hold (SUBMIT's tasks, RESULT's results, the
// ids of ACK and CANCEL, a worker HELLO's running tasks): the work one
// message asks of its receiver stays bounded whatever its size. The
// reference peers cut their batches far below it (kPeerBatchBytes).
inline constexpr std::uint32_t kMaxRecords = 1u << 18;

// What decoding one received message may cost. The manager reads its peers'
// messages with limits (manager.cpp); bosses and workers trust the manager
// and keep the defaults.
struct ParseLimits {
  std::size_t max_depth = 32;
  // msgpack values (containers and scalars) in the message at most: each
  // becomes a 24-byte object when unpacked (detail::check_msgpack).
  std::size_t max_values = SIZE_MAX;
  // str and bin fields point into the caller's bytes instead of being copied
  // into the decoder's zone: the bytes must then outlive the Message.
  bool reference_bytes = false;
};

// A received message, unpacked once. The accessors read its fields and throw
// DecodeError on any mismatch. The version is checked by the caller, so that
// a peer of another version can be told so.
class Message {
 public:
  // Unpacks with limits proportional to the size, so that a small frame cannot
  // claim a huge array. Throws DecodeError.
  static Message parse(const char* data, std::size_t size, const ParseLimits& limits = {});

  Type type() const { return type_; }
  std::uint32_t version() const { return version_; }
  const msgpack::object& field(std::uint32_t index) const;  // body field, 0-based after version

  Hello hello() const;
  Welcome welcome() const;
  ErrorMessage error() const;
  // ERROR "refused": what was refused (an ERROR without it: a HELLO).
  Refusal refusal() const;
  std::vector<Task> tasks() const;       // SUBMIT or TASKS
  ModuleHash module_hash() const;        // NEED_MODULE, FETCH_MODULE
  ModuleUpload module_upload() const;    // PUT_MODULE
  std::vector<Result> results() const;   // RESULT, in either direction
  std::vector<TaskId> task_ids() const;  // ACK, CANCEL, SERVICE_STARTED
  std::vector<CancelOutcome> cancel_outcomes() const;
  StatusReport status_report() const;  // STATUS_REPLY
  ModuleReply module_reply() const;
  std::uint32_t credit() const;
  std::optional<std::uint32_t> busy() const;     // HEARTBEAT from a worker
  std::vector<TaskId> started_services() const;  // HEARTBEAT from a worker
  std::string worker_note() const;               // HEARTBEAT from a worker; empty if none
  std::string text() const;                      // NOTICE, BYE

 private:
  std::vector<TaskId> id_list(std::uint32_t index) const;
  ModuleSignatures signatures(std::uint32_t index) const;  // absent: none

  msgpack::object_handle handle_;
  const msgpack::object* body_ = nullptr;
  std::uint32_t body_size_ = 0;
  Type type_{};
  std::uint32_t version_ = 0;
};

}  // namespace uni::proto
