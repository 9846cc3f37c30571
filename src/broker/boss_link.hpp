// The boss's side of the broker seam: what the client's I/O thread needs
// from whatever carries its tasks to workers and their results back, in the
// terms of the task's life — submit, modules on demand, results and their
// acknowledgement, cancel, status, tasks that outlive their boss, and the
// connection's ups and downs. The built-in manager (broker/zmq/zmq_boss_link.hpp)
// is one implementation; NATS JetStream (nats/link/nats_boss_link.hpp) is
// another, with no manager (docs/architecture.md §12 maps each method onto
// JetStream). Nothing above this interface may assume a manager.
#pragma once

#include <chrono>
#include <cstdint>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "broker/broker_info.hpp"
#include "broker/poll.hpp"
#include "proto/become.hpp"
#include "proto/kept_result.hpp"
#include "proto/messages.hpp"
#include "uni/uni.hpp"

namespace uni::broker {

// Replies to a boss's requests: the cluster's status (workers, queue,
// services, totals), and what a cancel did to each task.
using StatusPromise = std::promise<proto::StatusReport>;
using CancelPromise = std::promise<std::vector<proto::CancelOutcome>>;
// ... and whether a running service took on new code (BECOME).
using BecomePromise = std::promise<proto::BecomeReply>;
// ... and the kept result of a task, or why there is none (FETCH_RESULT).
using KeptResultPromise = std::promise<proto::KeptResultReply>;

// A task to submit, and the platform its module was built for (the queue it
// waits in until a worker of that platform takes it).
struct Submission {
  const proto::Task* task = nullptr;
  std::string_view platform;
};

// A task that outlives its boss (include/uni/detached.hpp), as
// BossLink::submit_detached() takes it: the module goes with it, for a
// broker that does not have it yet.
struct DetachedTask {
  ModuleHash module;
  std::string platform;
  std::string module_bytes;
  std::vector<std::string> module_signatures;  // stored with it (common/signing.hpp)
  std::string function;
  std::string args;  // msgpack array
  std::uint32_t timeout_ms = 0, wait_ms = 0;
  std::uint8_t max_attempts = 3;
};

// What a boss link reports. Called only from BossLink::process(), on the
// thread that drives the link.
class BossEvents {
 public:
  virtual ~BossEvents() = default;

  // Results of this boss's tasks: final ones, which the boss acknowledges
  // (BossLink::acknowledge) once it holds them, and kQueueFull, which means
  // "submit it again later". A result may come twice (after a reconnect, or a
  // task run twice): the boss keeps the first, by task id.
  virtual void on_results(std::vector<proto::Result>& results) = 0;
  // The broker needs the bytes of a module that submitted tasks use; the
  // boss answers with put_module(). Its tasks wait meanwhile.
  virtual void on_module_needed(const ModuleHash& hash) = 0;
  // Services of this boss submitted with proto::kFlagStartedEvent have
  // started executing on a worker (`uni spawn` waits for it).
  virtual void on_services_started(const std::vector<proto::TaskId>& ids) = 0;
  // Connected again after a drop, or the broker restarted: what was sent
  // before may be lost. The boss submits again every task without a result
  // (flag kFlagResubmitted; the broker drops what it already has by id) and
  // repeats its cancels. Requests awaiting a reply have failed already.
  virtual void on_reconnected(const BrokerInfo& info) = 0;
  // The connection dropped (the link reconnects by itself; on_reconnected
  // follows). Requests awaiting a reply have failed already, with `why`.
  virtual void on_disconnected(const std::string& why) { (void)why; }
  // The broker no longer holds these tasks of this boss although it had
  // taken them (a NATS stream lost with its node, or purged): the boss
  // submits them again (flag kFlagResubmitted). A notice says why.
  virtual void on_tasks_lost(const std::vector<proto::TaskId>& ids) = 0;
  // Something the user should know, from the broker ("no worker for platform
  // X has joined yet").
  virtual void on_notice(const std::string& text) = 0;
  // The broker is going away (a manager stopping); the link reconnects when
  // one is back, and nothing is lost meanwhile.
  virtual void on_broker_leaving(const std::string& reason) = 0;
  // The broker refused to let this boss go on with its session (after a
  // reconnect: its key was removed, or another client holds the session).
  // Requests awaiting a reply have failed already; the boss fails its tasks.
  virtual void on_session_refused(const std::string& why) { (void)why; }
};

// One thread drives a link: open() first, then the caller's poll loop. Not
// thread-safe.
class BossLink {
 public:
  using Clock = std::chrono::steady_clock;
  virtual ~BossLink() = default;

  // Connects as the boss of `session` (the first half of every task id it
  // submits) and waits until the broker has accepted it. Throws
  // proto::ConnectFailure: unreachable within `timeout`, authentication
  // failed, or refused (another protocol version) — never blocks past
  // `timeout`.
  virtual BrokerInfo open(std::chrono::milliseconds timeout) = 0;

  // Appends what the link waits on (descriptors such as an eventfd that a
  // library's callbacks signal, or its transport's own objects) to the
  // caller's poll set...
  virtual void add_poll_items(std::vector<PollItem>& items) = 0;
  // ...waits on the whole set, the caller's items included, up to `timeout`
  // (only the link knows what its items are; the default polls descriptors)...
  virtual void poll(std::vector<PollItem>& items, std::chrono::milliseconds timeout) {
    poll_descriptors(items.data(), items.size(), timeout);
  }
  // ...and handles what is ready: `ready` points at the items it appended,
  // revents filled in by the poll. Reports through `events`; bounded work per
  // call, so that the caller's loop keeps turning.
  virtual void process(const PollItem* ready, BossEvents& events) = 0;

  // Submits tasks, in order. Delivery is not confirmed: whatever has no
  // result when on_reconnected() comes is submitted again. The tasks need
  // only live for the call.
  virtual void submit(const std::vector<Submission>& tasks) = 0;
  // A module's bytes, in answer to on_module_needed().
  // Its signatures (common/signing.hpp) travel with it.
  virtual void put_module(const ModuleHash& hash, std::string_view platform, std::string_view bytes,
                          const proto::ModuleSignatures& signatures) = 0;
  // The boss holds these results: the broker may forget them.
  virtual void acknowledge(const std::vector<proto::TaskId>& ids) = 0;
  // Cancels tasks (of any boss). With a `reply`, it receives each task's
  // outcome (in the order of `ids`), or an exception: uni::ConnectError if
  // the connection drops before the answer, uni::Error if there is no
  // connection, the answer does not read, or the link closes first. Never
  // another request's answer. The task's own result follows as usual.
  virtual void cancel(const std::vector<proto::TaskId>& ids,
                      std::shared_ptr<CancelPromise> reply) = 0;
  // Asks for the cluster's status; `reply` as for cancel().
  virtual void request_status(std::shared_ptr<StatusPromise> reply) = 0;
  // Asks for a running service to become request.function of
  // request.module (docs/protocol.md 7.21; the broker may ask for the module
  // through on_module_needed). `reply` as for cancel(); a broker that cannot
  // do it answers "not ok", saying why.
  virtual void request_become(const proto::BecomeRequest& request,
                              std::shared_ptr<BecomePromise> reply) {
    reply->set_value({request.request, request.service, false,
                      name() + " cannot turn a running service into new code", 0, 0});
  }
  // Asks for the kept result of task query.id (docs/protocol.md 7.23): the
  // broker answers at once, or, if the task is held and query.wait_ms is not
  // 0, when it ends or the wait is over. `reply` as for cancel(). A broker
  // that keeps detached tasks itself (keeps_detached_tasks()) has no such
  // request and fails it with uni::Error.
  virtual void request_kept_result(const proto::ResultQuery& query,
                                   std::shared_ptr<KeptResultPromise> reply) {
    (void)query;
    reply->set_exception(
        std::make_exception_ptr(Error(name() + " is not asked for kept results this way")));
  }

  // ---- tasks that outlive their boss (uni::submit_detached, detached_result) ----
  // True if the broker keeps them itself, reachable with no boss session
  // (NATS: its task and result streams): submit_detached() and
  // detached_result() are then called on a link that is never opened. False
  // (the manager, which keeps results for its bosses): the caller opens the
  // link and submits through it as a boss, with kFlagDetached |
  // kFlagKeepResult, and asks request_kept_result() for the result.
  virtual bool keeps_detached_tasks() const { return false; }
  // Stores `task` and returns its id (a fresh session, sequence 1) once the
  // broker holds it. Throws uni::ConnectError (the broker cannot be reached,
  // or refused the credentials) or uni::Error.
  virtual proto::TaskId submit_detached(const DetachedTask& task) {
    (void)task;
    throw Error(name() + " takes detached tasks only from a boss connected to it");
  }
  // The result of task `id`, waiting up to `wait` for it; nullopt if there
  // is none by then (not finished, or, where the broker cannot tell, unknown
  // or expired). Throws as submit_detached().
  virtual std::optional<proto::Result> detached_result(const proto::TaskId& id,
                                                       std::chrono::milliseconds wait) {
    (void)id, (void)wait;
    throw Error(name() + " is asked for kept results only by a boss connected to it");
  }

  // Whether a status, cancel, become or kept-result reply is awaited.
  virtual bool requests_pending() const = 0;
  // Tells the broker this boss is alive; call every BrokerInfo::heartbeat.
  virtual void heartbeat() = 0;
  // Says goodbye (the broker may forget this boss at once) and fails every
  // request still awaiting its reply. Nothing is sent after it.
  virtual void close(std::string_view reason) = 0;

  // When the broker was last heard from (any message), for "no word from
  // ..." notices: a silent broker is not necessarily a dropped connection.
  virtual Clock::time_point last_heard() const = 0;
  // Why the broker is silent, when the link knows ("creating stream X:
  // Timeout"), for the same notices; "" if it does not.
  virtual std::string silence_reason() const { return ""; }
  // Which broker this is (known before open()), and its name for messages
  // to the user: "the manager at tcp://host:port".
  virtual const BrokerIdentity& identity() const = 0;
  const std::string& name() const { return identity().name; }
};

}  // namespace uni::broker
