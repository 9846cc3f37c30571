// uni::submit_detached and uni::detached_result (include/uni/detached.hpp)
// over a link that app/connect.cpp made for the address: a broker that keeps
// such tasks itself (BossLink::keeps_detached_tasks) is handed the task
// directly; any other (the built-in manager) takes it from a boss session,
// flagged detached + keep-result and confirmed by a FETCH_RESULT answered
// after it, and FETCH_RESULT reads its result later (proto/kept_result.hpp).
#include "client/detached.hpp"

#include <ctime>
#include <thread>

#include "common/module_file.hpp"
#include "proto/kept_result.hpp"

namespace uni::detail {

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// How long the built-in manager gets to take a task (queue full: the
// client submits it again every 200 ms) and its module, and to answer.
constexpr auto kTakeTimeout = 60s;
constexpr auto kAnswerMargin = 10s;

DetachedResult public_result(proto::Result r) {
  DetachedResult out;
  out.ok = r.status == proto::Status::kOk;
  out.status = proto::status_name(r.status);
  out.value = std::move(r.payload);
  out.worker = std::move(r.worker);
  out.host = std::move(r.host);
  out.attempt = r.attempt;
  return out;
}

// ---- a broker that keeps them itself ---------------------------------------------------

std::string hand_to_broker(broker::BossLink& link, const std::string& module_path,
                           const std::string& function, const std::string& msgpack_args,
                           const TaskOptions& options) {
  ModuleFile module;
  try {
    module = ModuleFile::load(module_path);
  } catch (const ModuleFileError& e) {
    throw ModuleError(e.what());
  }
  broker::DetachedTask task;
  task.module = module.hash;
  task.platform = module.platform;
  task.module_bytes = std::move(module.bytes);
  task.module_signatures = std::move(module.signatures);
  task.function = function;
  task.args = msgpack_args;
  task.timeout_ms = static_cast<std::uint32_t>(options.timeout.count());
  task.wait_ms = static_cast<std::uint32_t>(options.wait.count());
  task.max_attempts = static_cast<std::uint8_t>(options.max_attempts);
  return link.submit_detached(task).str();
}

// ---- through a boss session (the built-in manager) -------------------------------------

std::string duration_text(std::uint64_t ms) {
  std::uint64_t s = ms / 1000;
  if (s < 120) return std::to_string(s) + " s";
  if (s < 7200) return std::to_string(s / 60) + " min";
  if (s < 2 * 86400) return std::to_string(s / 3600) + " h " + std::to_string(s / 60 % 60) + " min";
  return std::to_string(s / 86400) + " days";
}

// The wall-clock time `ms_ago` milliseconds ago, local.
std::string time_ago(std::uint64_t ms_ago) {
  auto then = std::chrono::system_clock::now() - std::chrono::milliseconds(ms_ago);
  std::time_t t = std::chrono::system_clock::to_time_t(then);
  std::tm local{};
  localtime_r(&t, &local);
  char out[32];
  std::strftime(out, sizeof(out), "%Y-%m-%d %H:%M:%S", &local);
  return out;
}

// Why the manager has no result for the task, in words a user can act on.
std::string unknown_text(const proto::KeptResultReply& r, const std::string& manager) {
  const std::string task = "task " + r.id.str();
  if (r.detail == proto::kUnknownExpired)
    return "the result of " + task + " expired: " + manager + " keeps a result for " +
           duration_text(r.keep_ms) + " after its task ends (uni manager --keep-results-for)";
  if (r.detail == proto::kUnknownEvicted)
    return "the result of " + task + " was evicted to make room for newer ones: " + manager +
           " keeps a bounded number of results (uni manager --max-kept-results, "
           "--max-kept-result-bytes), the oldest go first";
  if (r.detail == proto::kUnknownNotKept)
    return task +
           " was not submitted to keep its result (uni submit keeps it; uni run and "
           "the C++ API's futures receive theirs directly)";
  return manager + " does not know " + task + ". The built-in manager keeps results only while " +
         "it runs, and it has been running since " + time_ago(r.uptime_ms) + " (" +
         duration_text(r.uptime_ms) + "): a task submitted before it (re)started, or to " +
         "another manager, is gone; submit it again";
}

std::string submit_to_manager(UnopenedLink link, const std::string& module_path,
                              const std::string& function, const std::string& msgpack_args,
                              const TaskOptions& options, const ConnectOptions& connection) {
  std::shared_ptr<Client> client = Client::start(std::move(link), connection);
  std::shared_ptr<const ModuleInfo> module = client->module_file(module_path);
  std::shared_ptr<TaskState> task = client->submit(module, function, msgpack_args, options,
                                                   proto::kFlagDetached | proto::kFlagKeepResult);
  const proto::TaskId id = task->task.id;
  const std::string& manager = client->identity().name;
  // The manager handles a connection's messages in order, so an answer to a
  // FETCH_RESULT sent after the SUBMIT tells whether it holds the task. If
  // it asked for the module, the upload went before the next question.
  const auto deadline = Clock::now() + kTakeTimeout;
  auto answered = [&] {
    std::lock_guard lock(task->mutex);
    // Answered directly: rejected (a RESULT the manager keeps no record of),
    // or here (too large to send); refused (the key may not submit).
    if (task->done && task->result.status == proto::Status::kRejected)
      throw Error(task->result.payload);
    if (task->done && task->result.status == proto::Status::kRefused)
      throw RefusedError(task->result.payload);
  };
  for (;;) {
    proto::KeptResultReply reply;
    try {
      reply = client->kept_result(id, 0ms, kAnswerMargin);
    } catch (const RefusedError&) {
      answered();  // the submission's refusal says more than the question's
      throw;
    }
    answered();
    if (reply.state == proto::KeptState::kDone) {
      if (reply.result->status == proto::Status::kRejected) throw Error(reply.result->payload);
      return id.str();  // it ended already; its result is kept
    }
    if (reply.state == proto::KeptState::kPending && reply.detail != "waiting-module")
      return id.str();
    if (reply.state == proto::KeptState::kUnknown && reply.detail != proto::kUnknownNeverSeen)
      throw Error(manager + " did not keep task " + id.str() + ": " + reply.detail);
    // Its module is on the way, or (never seen) the manager is full and the
    // client submits it again shortly.
    if (Clock::now() >= deadline)
      throw Error(manager + " did not take task " + id.str() + " within " +
                  std::to_string(kTakeTimeout.count()) +
                  " s (it holds as many tasks as it may, --max-tasks, or its module is still "
                  "uploading)");
    if (reply.state == proto::KeptState::kUnknown) std::this_thread::sleep_for(200ms);
  }
}

std::optional<DetachedResult> result_from_manager(UnopenedLink link, const proto::TaskId& id,
                                                  std::chrono::milliseconds wait,
                                                  const ConnectOptions& connection) {
  std::shared_ptr<Client> client = Client::start(std::move(link), connection);
  const std::string& manager = client->identity().name;
  const auto deadline = Clock::now() + wait;
  for (;;) {
    auto left = std::max(
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()), 0ms);
    proto::KeptResultReply reply = client->kept_result(id, left, kAnswerMargin);
    if (reply.state == proto::KeptState::kDone) return public_result(std::move(*reply.result));
    if (reply.state == proto::KeptState::kUnknown)
      throw UnknownTaskError(unknown_text(reply, manager));
    if (Clock::now() >= deadline) return std::nullopt;
    // Answered "pending" early: the manager holds as many waiting requests
    // as it may. Ask again after a pause.
    std::this_thread::sleep_for(std::min<std::chrono::milliseconds>(left, 500ms));
  }
}

}  // namespace

void check_detached_options(const TaskOptions& options) {
  if (options.max_attempts < 1 || options.max_attempts > 255)
    throw Error("max_attempts must be between 1 and 255");
}

proto::TaskId parse_task_id(const std::string& id) {
  std::optional<proto::TaskId> task = proto::TaskId::parse(id);
  if (!task)
    throw Error("'" + id +
                "' is not a task id (as uni submit prints it: 16 hex digits, a dash, a number)");
  return *task;
}

std::string submit_detached(UnopenedLink link, const std::string& module_path,
                            const std::string& function, const std::string& msgpack_args,
                            const TaskOptions& options, const ConnectOptions& connection) {
  if (link.link->keeps_detached_tasks())
    return hand_to_broker(*link.link, module_path, function, msgpack_args, options);
  return submit_to_manager(std::move(link), module_path, function, msgpack_args, options,
                           connection);
}

std::optional<DetachedResult> detached_result(UnopenedLink link, const proto::TaskId& id,
                                              std::chrono::milliseconds wait,
                                              const ConnectOptions& connection) {
  if (!link.link->keeps_detached_tasks())
    return result_from_manager(std::move(link), id, wait, connection);
  std::optional<proto::Result> r = link.link->detached_result(id, wait);
  if (!r) return std::nullopt;
  return public_result(std::move(*r));
}

}  // namespace uni::detail
