// The manager's boss records and result routing: which boss is connected on
// which peer, the results waiting to go out to each (batched per turn), the
// modules each was asked for, the "no worker for your platform" notices, and
// the grace period of a boss that went silent or left. The results themselves
// stay in the task table; a reconnecting boss gets its session's finished
// tasks from the table's index, not from a walk of every task.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "common/hash.hpp"
#include "common/identity.hpp"
#include "manager/outbox.hpp"
#include "proto/messages.hpp"

namespace uni::manager {

class TaskTable;
class WorkerRegistry;

struct Boss {
  std::uint64_t session = 0;
  // The key of its connection (of its last one, once away), and the secret
  // of the HELLO that opened the session: only that secret resumes it.
  std::shared_ptr<const Identity> identity;
  std::string secret;
  PeerId peer;  // empty once forgotten
  bool connected = false;
  bool forgotten = false;  // left or expired; kept only for its running services
  Clock::time_point last_seen{};
  std::vector<proto::TaskId> results_out;  // to send this turn
  bool listed_output = false;
  std::unordered_set<ModuleHash> asked;                      // NEED_MODULE sent on this connection
  std::map<std::uint16_t, Clock::time_point> waiting_since;  // platforms with no worker
  std::set<std::uint16_t> noticed;                           // told so
};

class BossRouter {
 public:
  Boss* find(std::uint64_t session) {
    auto it = bosses_.find(session);
    return it == bosses_.end() ? nullptr : it->second.get();
  }
  Boss* at(const PeerId& peer) {
    auto it = by_peer_.find(peer);
    return it == by_peer_.end() ? nullptr : it->second;
  }
  // The session's record, created (disconnected) if there is none: tasks
  // re-announced by workers may name a boss that has not said HELLO yet.
  Boss& record(std::uint64_t session, Clock::time_point now);
  // A boss's HELLO on `peer`.
  Boss& connect(std::uint64_t session, const PeerId& peer, Clock::time_point now);
  // The peer now speaks for something else: its boss, if any, is disconnected.
  void release(const PeerId& peer);

  // ---- results ----
  // A task of this session is done: its result goes out this turn, if the
  // boss is connected (otherwise after its next HELLO).
  void result_ready(const proto::TaskId& id);
  // Every finished task of the boss goes (again) to it; it acknowledges what
  // it gets and ignores what it already had.
  void resend(Boss& b, std::vector<proto::TaskId> finished);
  // One or more RESULT messages per boss with results this turn.
  void flush(const TaskTable& table, Outbox& out);
  // A RESULT could not be sent: the boss counts as disconnected until heard from.
  void undelivered(const PeerId& peer);

  // ---- modules ----
  // The module was stored or refused: NEED_MODULE is no longer outstanding
  // with any boss, so one evicted later is asked for again.
  void module_answered(const ModuleHash& hash);

  // ---- notices ----
  void note_unserved(std::uint64_t session, std::uint16_t platform, Clock::time_point now);
  void platform_served(std::uint16_t platform);
  // "No worker for platform P", once per boss and platform, after `after`.
  void send_notices(Clock::time_point now, std::chrono::milliseconds after,
                    const WorkerRegistry& workers, Outbox& out);

  // ---- departures ----
  // Marks bosses silent past `timeout` disconnected; returns those away past
  // `grace`, to be forgotten.
  std::vector<Boss*> expire(Clock::time_point now, std::chrono::milliseconds timeout,
                            std::chrono::milliseconds grace);
  // After its tasks were dropped: the record goes, or (`owns_tasks`: its
  // detached services still run) stays, forgotten, until the last of them ends.
  void forget(Boss& b, bool owns_tasks);
  void drop_if_forgotten(std::uint64_t session);

  std::size_t connected_count() const;
  template <class F>
  void for_each(F&& f) {
    for (auto& [session, b] : bosses_) f(*b);
  }
  // Calls f(peer, connected) for each boss with a connection (maybe silent).
  template <class F>
  void for_each_peer(F&& f) const {
    for (const auto& [peer, b] : by_peer_) f(peer, b->connected);
  }

 private:
  void note_output(Boss& b);
  void erase(Boss& b);

  std::unordered_map<std::uint64_t, std::unique_ptr<Boss>> bosses_;  // by session
  std::unordered_map<PeerId, Boss*> by_peer_;
  std::vector<Boss*> with_output_;  // results_out not empty
};

}  // namespace uni::manager
