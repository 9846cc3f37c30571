// The manager without its socket: one entry point per
// message type, taking decoded messages and the peer that sent them and
// filling an Outbox with what must be sent. It joins the task table, the
// worker registry, the boss router and the module store, applying to each
// the changes the others return. Time comes in as an argument, so tests
// drive it through every path of docs/reliability.md with no socket and no
// sleep.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/identity.hpp"
#include "manager/access.hpp"
#include "manager/become_requests.hpp"
#include "manager/boss_router.hpp"
#include "manager/kept_results.hpp"
#include "manager/manager_config.hpp"
#include "manager/metrics.hpp"
#include "manager/module_store.hpp"
#include "manager/outbox.hpp"
#include "manager/result_waiters.hpp"
#include "manager/submission.hpp"
#include "manager/task_table.hpp"
#include "manager/worker_registry.hpp"
#include "proto/kept_result.hpp"
#include "proto/messages.hpp"

namespace uni::manager {

class ManagerCore {
 public:
  // `manager_id` is this run's id (WELCOME, STATUS); `endpoint` the address
  // STATUS reports; `now` the start, which opens the recovery window.
  ManagerCore(const ManagerConfig& config, std::string manager_id, std::string endpoint,
              Clock::time_point now);
  ManagerCore(const ManagerCore&) = delete;
  ManagerCore& operator=(const ManagerCore&) = delete;

  enum class Role : std::uint8_t { kUnknown, kBoss, kWorker };
  // Unknown until the peer says HELLO (again, after a manager restart).
  Role role_of(const PeerId& peer);
  // Comes first for every message but HELLO: a known peer is alive, and a
  // boss marked disconnected is back (the results it missed go out again).
  // Returns the peer's role; kUnknown: answer "hello-required". `now` is the
  // time of the message being handled.
  Role heard_from(const PeerId& peer, Clock::time_point now);

  // ---- one entry point per message type (docs/protocol.md §7) ----
  // Any peer. `who`: the key its connection was admitted with (ZAP), null if
  // that key has left the clients file since. Every check of what a peer
  // may do (access.hpp) reads the identity its HELLO bound to its record.
  void on_hello(const PeerId& peer, const proto::Hello& hello, std::shared_ptr<const Identity> who,
                Clock::time_point now, Outbox& out);
  void on_cancel(const PeerId& peer, const std::vector<proto::TaskId>& ids, Outbox& out);
  void on_status(const PeerId& peer, Clock::time_point now, Outbox& out);
  void on_bye(const PeerId& peer, const std::string& reason, Outbox& out);
  // A boss:
  void on_submit(const PeerId& peer, Submission submission, Clock::time_point now, Outbox& out);
  void on_put_module(const PeerId& peer, proto::ModuleUpload upload, Clock::time_point now,
                     Outbox& out);
  // An upload that was refused (malformed, too large, failed its checks).
  void refuse_module(const PeerId& peer, const ModuleHash& hash, const std::string& error,
                     Outbox& out);
  void on_ack(const PeerId& peer, const std::vector<proto::TaskId>& ids, Outbox& out);
  // A running service is to take on new code (manager_core_become.cpp).
  void on_become(const PeerId& peer, proto::BecomeRequest request, Clock::time_point now,
                 Outbox& out);
  // The kept result of a task, or why there is none; held until the task
  // ends if the asker waits (manager_core_kept.cpp). Its owner may ask
  // (access.hpp), or an admin.
  void on_fetch_result(const PeerId& peer, const proto::ResultQuery& query, Clock::time_point now,
                       Outbox& out);
  // A worker:
  void on_heartbeat(const PeerId& peer, std::optional<std::uint32_t> busy,
                    const std::vector<proto::TaskId>& started_services, Outbox& out,
                    std::string note = {});
  void on_result(const PeerId& peer, std::vector<proto::Result> results, Outbox& out);
  void on_fetch_module(const PeerId& peer, const ModuleHash& hash, Outbox& out);
  void on_credit(const PeerId& peer, std::uint32_t capacity);
  void on_become_reply(const PeerId& peer, proto::BecomeReply reply, Outbox& out);

  // The clients file was read again: each connected peer is who its key is
  // now (`find`, by raw public key); a peer whose key is gone, or whose new
  // role may no longer serve as a worker, is dropped.
  void on_clients_reloaded(
      const std::function<std::shared_ptr<const Identity>(const std::string&)>& find, Outbox& out);

  // ---- each turn of the loop ----
  // Assigns queued tasks to workers with free credit.
  void dispatch();
  // One ACK and one or more TASKS per worker, one or more RESULT per boss.
  void flush(Outbox& out);
  // What the transport could not send (see Outgoing::Kind).
  void undelivered(const Outgoing& message, Outbox& out);
  // Dead workers, gone bosses, the recovery window, wait limits, notices, heartbeats.
  void on_timer(Clock::time_point now, Outbox& out);
  // BYE to every connected peer; false if there is none.
  bool say_goodbye(std::string_view reason, Outbox& out);

  // A limit refused something (counted for STATUS and /metrics).
  void count(Refusal refusal, std::uint64_t n = 1) {
    metrics_.refused[static_cast<std::size_t>(refusal)] += n;
  }
  // What the transport knows: descriptors, connections, handshakes.
  void note_transport(const TransportCounts& counts) { metrics_.transport = counts; }

  proto::StatusReport status(Clock::time_point now) const;
  // The status with the histograms and the throughput history, for /metrics
  // and the dashboard (http_server.hpp).
  MetricsSnapshot snapshot(Clock::time_point now) const;
  const TaskTable& tasks() const { return tasks_; }
  const KeptResults& kept_results() const { return kept_; }
  const WorkerRegistry& workers() const { return workers_; }

 private:
  void apply(Outbox& out);
  proto::Welcome welcome() const;
  // The identity of a connected peer (worker or boss), or null.
  const Identity* identity_of(const PeerId& peer);
  // ERROR "refused" to `peer`, and a log line.
  void refuse(const PeerId& peer, const std::string& text, const proto::Refusal& what, Outbox& out);
  // HELLO, by role (manager_core_claims.cpp for a worker's).
  void boss_hello(const PeerId& peer, const proto::Hello& hello,
                  std::shared_ptr<const Identity> who, Outbox& out);
  void worker_hello(const PeerId& peer, const proto::Hello& hello,
                    std::shared_ptr<const Identity> who, Outbox& out);
  // What a worker may resume of what it re-announced (manager_core_claims.cpp).
  void resume_held(Worker& w, const proto::Hello& hello, Outbox& out);
  bool may_take_over(const Worker& w, const TaskRecord& t, const proto::RunningTask& held);
  // A boss resubmitted a task a worker claimed: the claim holds, or is undone.
  void check_claim(TaskRecord& t, Outbox& out);
  // A result for a claimed task before its claim could be checked.
  bool hold_claimed_result(TaskRecord& t, proto::Result& r);
  // Whether worker `w` may fetch a module: one a task or become sent to it needs.
  bool may_fetch(const Worker& w, const ModuleHash& hash);
  // The lost worker's tasks that wait again: it may take them back.
  void remember_released(const Worker& w, const std::vector<proto::TaskId>& ids);
  void claims_on_forget(std::uint64_t session, Outbox& out);
  void claims_on_timer();
  void worker_gone(Worker& w, const std::string& why, Outbox& out);
  void forget_boss(Boss& b, std::string_view why, Outbox& out);
  void tell_started(const TaskRecord& t, Outbox& out);
  proto::Result refusal(const proto::TaskId& id, const std::string& why) const;
  // Become (manager_core_become.cpp): a request goes to the service's worker,
  // or is answered (to its boss, and forgotten).
  void forward_become(std::uint64_t id, Outbox& out);
  void answer_become(std::uint64_t id, bool ok, std::string text, std::uint64_t handover_ns,
                     Outbox& out);
  void becomes_after_upload(const ModuleHash& hash, std::optional<std::uint64_t> refused_session,
                            const std::string& error, Outbox& out);
  void becomes_on_timer(Outbox& out);
  // Kept results (manager_core_kept.cpp): a finished task's result is kept
  // and whoever waits for it answered; on the timer, expiry and deadlines.
  void keep_result(const TaskRecord& t, Outbox& out);
  proto::KeptResultReply kept_reply(std::uint64_t request, const proto::TaskId& id) const;
  void kept_on_timer(Outbox& out);

  const ManagerConfig config_;
  const std::string manager_id_;
  const std::string endpoint_;
  ModuleStore modules_;
  WorkerRegistry workers_;
  TaskTable tasks_;
  BossRouter bosses_;
  BecomeRequests becomes_;
  KeptResults kept_;
  ResultWaiters result_waiters_;
  // Tasks taken from a worker that was lost, by who it was (its key, id and
  // secret): that worker, back, may take them again while they wait.
  std::unordered_map<proto::TaskId, std::string, proto::TaskIdHash> released_;
  // Placeholders (tasks a worker re-announced to a manager that did not know
  // them) until their boss's resubmission shows whether the claim holds: the
  // digest of the arguments the worker says it was sent, and its result if
  // it came first (unacknowledged: the worker keeps it meanwhile).
  struct Claim {
    std::optional<std::uint64_t> digest;
    std::optional<proto::Result> result;
  };
  std::unordered_map<proto::TaskId, Claim, proto::TaskIdHash> claims_;
  TableChanges changes_, applying_;
  Clock::time_point now_;  // of the message or timer being handled
  const Clock::time_point started_;
  // Times come from now_, the time of the message being handled: no clock
  // read per task.
  ManagerMetrics metrics_;
  Clock::time_point next_heartbeat_{};
  struct ModuleTotals {
    std::uint64_t uploads = 0, upload_bytes = 0;  // PUT_MODULE accepted
    std::uint64_t fetches = 0, fetch_bytes = 0;   // MODULE sent to workers
  } module_totals_;
};

}  // namespace uni::manager
