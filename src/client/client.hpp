// The boss's connection to a cluster: submits tasks, ships modules on the
// broker's request, resolves futures, and after any reconnect resubmits
// every task that has no result yet (the broker drops duplicates by id).
// User threads hand work to one I/O thread, which owns the broker link
// (broker/boss_link.hpp) and hands it whatever has accumulated at once.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "broker/boss_link.hpp"
#include "broker/connect_failure.hpp"
#include "common/hash.hpp"
#include "common/unique_fd.hpp"
#include "proto/messages.hpp"
#include "uni/uni.hpp"

namespace uni::detail {

struct ModuleInfo {
  std::string path;
  std::string bytes;
  ModuleHash hash;
  std::string platform;
  std::vector<std::string> signatures;  // from PATH.sig (common/signing.hpp)
};

struct TaskState {
  proto::Task task;  // kept for resubmission until the result arrives
  std::shared_ptr<const ModuleInfo> module;
  mutable std::mutex mutex;
  mutable std::condition_variable finished;
  bool done = false;
  // A service submitted with kFlagStartedEvent: its worker reports it
  // executing (SERVICE_STARTED). `finished` is notified then too.
  bool started = false;
  proto::Result result;
};

// Called on the I/O thread, for a binding that takes results as they come
// (app/c_api.cpp) rather than waiting on each task's state: a task finished
// (its state filled), or a service reported running. Empty: not called.
struct TaskHooks {
  std::function<void(const TaskState&)> on_done;
  std::function<void(const TaskState&)> on_started;
};

// A link made for an address (app/links.hpp) and not opened yet, with the
// boss session it was made for and the address endpoint() is to say.
struct UnopenedLink {
  std::unique_ptr<broker::BossLink> link;
  std::uint64_t session = 0;
  std::string endpoint;
};

// A failed first connection as the API reports it.
ConnectError connect_error(const broker::ConnectFailure& failure);

class Client {
 public:
  // A fresh random boss session: the first half of the ids of its tasks.
  // With a client key, its upper 32 bits are the key's owner tag
  // (common/identity.hpp).
  static std::uint64_t new_session(std::optional<std::uint32_t> owner_tag);
  // Opens `link` as boss `session` (blocking until the broker accepts it) and
  // starts the I/O thread. `endpoint` is what endpoint() says. Throws
  // ConnectError. The link comes from app/links.hpp, or is a test double:
  // the client never asks which broker it is.
  static std::shared_ptr<Client> start(std::unique_ptr<broker::BossLink> link,
                                       std::uint64_t session, std::string endpoint,
                                       const ConnectOptions& options, TaskHooks hooks = {});
  static std::shared_ptr<Client> start(UnopenedLink link, const ConnectOptions& options,
                                       TaskHooks hooks = {}) {
    return start(std::move(link.link), link.session, std::move(link.endpoint), options,
                 std::move(hooks));
  }
  ~Client();

  std::shared_ptr<TaskState> submit(std::shared_ptr<const ModuleInfo> module, std::string function,
                                    std::string args, const TaskOptions& options,
                                    std::uint8_t flags);

  // Asks the manager to cancel tasks (of any boss). Returns each one's
  // outcome; throws Error if the manager does not answer within `timeout`.
  std::vector<proto::CancelOutcome> cancel(const std::vector<proto::TaskId>& ids,
                                           std::chrono::milliseconds timeout);
  void cancel_async(const proto::TaskId& id);

  // Asks for a running service to become `request.function` of `module`
  // (request.request and request.module are set here) and waits for the
  // answer, which says whether it did. Throws ConnectError if no answer
  // comes within `wait`, or the connection drops first.
  proto::BecomeReply become(proto::BecomeRequest request, std::shared_ptr<const ModuleInfo> module,
                            std::chrono::milliseconds wait);

  // The manager's status; throws Error if it does not answer within `timeout`.
  proto::StatusReport status(std::chrono::milliseconds timeout);

  // The kept result of task `id` (proto/kept_result.hpp), the broker holding
  // the request up to `wait` for a task that has not ended. Throws
  // ConnectError if no answer comes within `wait` plus `timeout`, or the
  // connection drops first; Error if the broker has no such request.
  proto::KeptResultReply kept_result(const proto::TaskId& id, std::chrono::milliseconds wait,
                                     std::chrono::milliseconds timeout);

  // Reads and checks a module file; cached by path while the file is unchanged.
  std::shared_ptr<const ModuleInfo> module_file(const std::string& path);

  const std::string& endpoint() const { return endpoint_; }
  std::uint64_t session() const { return session_; }
  // The broker the link talks to (its kind and name, for messages).
  const broker::BrokerIdentity& identity() const;

  // Tasks submitted and not finished.
  std::size_t outstanding() const;
  // Tasks finished with another status than ok.
  std::size_t failed() const;

  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

 private:
  class Io;
  Client() = default;
  void wake();

  std::string endpoint_;
  std::uint64_t session_ = 0;
  TaskHooks hooks_;  // set before the I/O thread starts, read by it only
  std::unique_ptr<Io> io_;

  // Shared with the I/O thread, under mutex_.
  mutable std::mutex mutex_;
  std::vector<std::shared_ptr<TaskState>> to_submit_;
  std::vector<proto::TaskId> to_cancel_;
  struct Request {
    proto::Type type;  // kStatus, kCancel, kBecome or kFetchResult
    std::vector<proto::TaskId> ids;
    std::shared_ptr<broker::StatusPromise> status;
    std::shared_ptr<broker::CancelPromise> cancel;
    // kBecome: the request, its module (the broker may ask for it), who waits.
    proto::BecomeRequest become{};
    std::shared_ptr<const ModuleInfo> module{};
    std::shared_ptr<broker::BecomePromise> became{};
    // kFetchResult
    proto::ResultQuery query{};
    std::shared_ptr<broker::KeptResultPromise> kept{};
  };
  std::vector<Request> requests_;
  std::uint64_t next_seq_ = 1;
  std::uint64_t next_become_ = 1;
  std::uint64_t next_result_query_ = 1;
  std::size_t outstanding_ = 0;
  std::size_t failed_ = 0;  // tasks whose result was not ok
  std::size_t max_outstanding_ = 0;
  std::chrono::milliseconds submit_timeout_{0};
  std::condition_variable window_open_;

  std::mutex modules_mutex_;
  struct CachedModule {
    std::int64_t mtime_ns = 0;
    std::uint64_t size = 0;
    std::shared_ptr<const ModuleInfo> info;
  };
  std::map<std::string, CachedModule> modules_by_path_;

  std::thread thread_;
};

}  // namespace uni::detail
