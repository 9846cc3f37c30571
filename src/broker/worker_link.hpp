// The worker's side of the broker seam: what the supervisor needs from
// whatever hands it tasks and takes its results — tasks within the credit it
// grants, modules fetched on demand, cancels, results and their
// acknowledgement, heartbeats, and the connection's ups and downs. The
// built-in manager (broker/zmq/zmq_worker_link.hpp) is one implementation;
// NATS JetStream (nats/link/nats_worker_link.hpp) is another, with no manager
// (docs/architecture.md §12 maps each method onto JetStream). Nothing above
// this interface may assume a manager.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "broker/broker_info.hpp"
#include "broker/poll.hpp"
#include "proto/become.hpp"
#include "proto/messages.hpp"

namespace uni::broker {

// Who a worker is, what it may take now, and every task it holds (waiting,
// running, or finished with its result not yet acknowledged): announced on
// every (re)connection, so that a broker that lost track — a restarted
// manager — can reconcile.
struct WorkerAnnouncement {
  std::string worker_id;
  std::string host;
  std::uint32_t pid = 0;  // the supervisor's
  std::uint32_t slots = 0;
  std::uint32_t capacity = 0;  // the credit granted with it: tasks it may hold
  std::string platform;
  std::string isolation;  // "process" or "thread"
  std::vector<proto::RunningTask> held;
};

// What a worker link reports. Called only from WorkerLink::open() and
// process(), on the thread that drives the link.
class WorkerEvents {
 public:
  virtual ~WorkerEvents() = default;

  // The worker as it is now, for the link to announce (at a reconnection, or
  // when the broker asks again). Its capacity counts as granted.
  virtual WorkerAnnouncement announce() = 0;
  // Connected again after a drop, or the broker restarted, and announced:
  // results not yet acknowledged, and module fetches, may have been lost —
  // send them again. Tasks the broker no longer wants are cancelled by it.
  virtual void on_reconnected(const BrokerInfo& info) = 0;
  // The connection dropped (the link reconnects by itself; on_reconnected
  // follows).
  virtual void on_disconnected(const std::string& why) { (void)why; }
  // Tasks to run, never more than the credit granted. One may come again
  // after a reconnect: the worker keeps the copy it holds.
  virtual void on_tasks(std::vector<proto::Task>& tasks) = 0;
  // A module asked for with fetch_module(): its bytes, or why not. The
  // worker checks the bytes against the hash itself.
  virtual void on_module(proto::ModuleReply& module) = 0;
  // Stop these tasks if held (finished ones are left alone).
  virtual void on_cancel(const std::vector<proto::TaskId>& ids) = 0;
  // The broker holds the results of these tasks: the worker forgets them.
  virtual void on_results_stored(const std::vector<proto::TaskId>& ids) = 0;
  // A running service is to take on new code (docs/protocol.md 7.21); the
  // worker answers with WorkerLink::send_become_reply(). A worker that
  // cannot hand services over says so there.
  virtual void on_become(const proto::BecomeRequest& request) = 0;
  // The broker is going away: nobody will acknowledge results until it is
  // back (a draining worker stops waiting for them).
  virtual void on_broker_leaving(const std::string& reason) = 0;
};

// One thread drives a link: open() first, then the supervisor's poll loop.
// Not thread-safe.
class WorkerLink {
 public:
  virtual ~WorkerLink() = default;

  // Connects as worker.worker_id, announces the worker and waits until the
  // broker has accepted it. Throws broker::ConnectFailure: kUnreachable if
  // nothing answered within `timeout` (open() may then be called again),
  // kAuthFailed or kProtocol if waiting will not help.
  virtual BrokerInfo open(const WorkerAnnouncement& worker, std::chrono::milliseconds timeout) = 0;

  // As BossLink: the link's part of the caller's poll set, waiting on the
  // whole set, and handling what is ready (bounded work per call),
  // reporting through `events`.
  virtual void add_poll_items(std::vector<PollItem>& items) = 0;
  virtual void poll(std::vector<PollItem>& items, std::chrono::milliseconds timeout) {
    poll_descriptors(items.data(), items.size(), timeout);
  }
  virtual void process(const PollItem* ready, WorkerEvents& events) = 0;

  // How many tasks the worker may hold from now on (0: none, it drains).
  // False if it could not be said now (no connection): say it again later.
  virtual bool grant_credit(std::uint32_t capacity) = 0;
  // Asks for a module's bytes; on_module() answers.
  virtual void fetch_module(const ModuleHash& hash) = 0;
  // Results of finished tasks (final, or kHandedBack: given back unrun or
  // interrupted, to run elsewhere without an attempt charged). Delivery is
  // confirmed by on_results_stored(); unconfirmed ones are sent again after
  // on_reconnected(). The results need only live for the call.
  virtual void send_results(const std::vector<const proto::Result*>& results) = 0;
  // What came of an on_become() request.
  virtual void send_become_reply(const proto::BecomeReply& reply) = 0;
  // The worker is alive; how many tasks execute now, and which services
  // have started. Call every BrokerInfo::heartbeat, and early on a change.
  virtual void heartbeat(std::uint32_t busy,
                         const std::vector<proto::TaskId>& started_services) = 0;
  // Why the worker takes no tasks (its module cache is unusable), or empty:
  // sent with every heartbeat from now on, for `uni status` to show. A
  // broker that has nowhere to show it may ignore it.
  virtual void set_note(const std::string& note) { (void)note; }
  // Says goodbye; nothing is sent after it.
  virtual void close(std::string_view reason) = 0;

  // Which broker this is (known before open()), for messages ("waiting for
  // a manager at tcp://...").
  virtual const BrokerIdentity& identity() const = 0;
};

}  // namespace uni::broker
