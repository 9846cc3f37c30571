// The manager's event loop and its handling of each message type
// (docs/protocol.md). Per cycle: read every waiting message, assign queued
// tasks to workers with free credit, then send one batched TASKS message per
// worker and one RESULT message per boss. Timers: heartbeats, dead workers,
// gone bosses, wait limits, "no worker" notices.
#include "manager/manager.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <queue>
#include <random>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <zmq.hpp>

#include "common/log.hpp"
#include "common/unique_fd.hpp"
#include "manager/module_store.hpp"
#include "manager/submission.hpp"
#include "manager/task_queue.hpp"
#include "proto/messages.hpp"
#include "proto/transport.hpp"
#include "uni/version.hpp"

namespace uni::manager {

namespace {

using Clock = std::chrono::steady_clock;
using proto::Status;
using proto::TaskId;
using proto::TaskIdHash;

enum class TaskState : std::uint8_t {
  kWaitingModule,  // the manager lacks its module; the boss was asked for it
  kQueued,
  kRunning,       // assigned to a worker (running or prefetched there)
  kAwaitingBoss,  // known only from a worker's re-announcement, which lost it: needs the boss's
                  // resubmission
  kRecovering,    // resubmitted just after a manager start: waits for workers to re-announce it
  kDone,          // result waiting for the boss's ACK
};

struct Worker;

struct TaskRecord {
  proto::Task task;
  TaskState state = TaskState::kQueued;
  bool placeholder = false;  // args unknown (re-announced by a worker after a restart)
  bool started = false;      // a service its worker reported running
  bool stopping = false;     // CANCEL sent to its worker
  std::uint16_t platform = 0;
  Worker* worker = nullptr;
  std::unique_ptr<proto::Result> result;
};

struct Boss {
  std::uint64_t session = 0;
  std::string rid;
  bool connected = false;
  bool forgotten = false;  // left or expired; kept only for its running services
  std::size_t tasks = 0;   // task records of its session
  Clock::time_point last_seen{};
  std::vector<TaskId> results_out;
  std::unordered_set<ModuleHash> asked;                      // NEED_MODULE sent on this connection
  std::map<std::uint16_t, Clock::time_point> waiting_since;  // platforms with no worker
  std::set<std::uint16_t> noticed;
};

struct Worker {
  std::string rid, id, host, isolation;
  std::uint32_t pid = 0, slots = 1, capacity = 1;
  std::uint32_t executing = 0;  // as its last HEARTBEAT said
  std::uint16_t platform = 0;
  std::unordered_set<TaskId, TaskIdHash> inflight;
  Clock::time_point last_seen{};
  Clock::time_point joined{};
  std::vector<TaskId> tasks_out;
  std::vector<TaskId> acks_out;
  // On the manager's short lists (so that a turn of its loop costs what
  // happened in it, not the number of workers): room for tasks, output.
  bool listed_room = false, listed_output = false;
};

struct Peer {
  Boss* boss = nullptr;
  Worker* worker = nullptr;
};

std::string random_hex(std::size_t bytes) {
  std::random_device rd;
  std::string out;
  static const char* digits = "0123456789abcdef";
  for (std::size_t i = 0; i < bytes; ++i) {
    unsigned v = rd() & 0xff;
    out += digits[v >> 4];
    out += digits[v & 15];
  }
  return out;
}

// The hash a PUT_MODULE names, also when its other fields do not decode;
// nullopt when the hash does not decode either.
std::optional<ModuleHash> hash_of_upload(const proto::Message& m) {
  try {
    return m.module_hash();
  } catch (const proto::DecodeError&) {
    return std::nullopt;
  }
}

std::string seconds_text(std::uint32_t ms) {
  char out[32];
  std::snprintf(out, sizeof(out), "%g", ms / 1000.0);
  return out;
}

}  // namespace

class Manager::Impl {
 public:
  explicit Impl(ManagerConfig config)
      : config_(std::move(config)),
        zap_(context_,
             [&] {
               std::set<std::string> keys = config_.extra_client_keys;
               keys.insert(config_.keys.client_public);
               return keys;
             }()),
        router_(proto::make_router(context_, config_.keys, config_.listen, config_.max_message,
                                   endpoint_)),
        modules_(config_.module_store_bytes),
        wake_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)),
        manager_id_(random_hex(8)) {
    if (!wake_) throw std::runtime_error("eventfd failed");
  }

  const std::string& endpoint() const { return endpoint_; }

  void request_stop() {
    stop_ = true;
    std::uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(wake_.get(), &one, sizeof(one));
  }

  void run();

 private:
  // ---- I/O ----
  void read_messages();
  void handle(const std::string& rid, const char* data, std::size_t size);
  bool send(const std::string& rid, const std::string& body);
  void flush();

  // ---- handlers, one per message type ----
  void on_hello(const std::string& rid, const proto::Message& m);
  void queue_missed_results(Boss& boss);
  void on_submit(Boss& boss, const proto::Message& m);
  void refuse(const TaskId& id, std::string why);
  void answer_submitter();
  void on_put_module(Boss& boss, const proto::Message& m);
  void refuse_module(Boss& boss, const ModuleHash& hash, const std::string& error);
  void on_ack(Boss& boss, const proto::Message& m);
  void on_cancel(const std::string& rid, const proto::Message& m);
  void on_status(const std::string& rid);
  void on_result(Worker& worker, const proto::Message& m);
  void on_fetch_module(Worker& worker, const proto::Message& m);
  void on_bye(Peer peer, const proto::Message& m);

  // ---- task life cycle ----
  TaskRecord* find(const TaskId& id) {
    auto it = tasks_.find(id);
    return it == tasks_.end() ? nullptr : &it->second;
  }
  // Queues (or, lacking its args, parks) a task; false if it ended it instead.
  bool enqueue(TaskRecord& t, bool front);
  void end_stopped(TaskRecord& t);
  void module_arrived(const ModuleHash& hash);
  void dispatch();
  void complete(TaskRecord& t, proto::Result result);
  void fail(TaskRecord& t, Status status, std::string text);
  void attempt_failed(TaskRecord& t, const std::string& what);
  void attempts_exhausted(TaskRecord& t);
  void unassign(TaskRecord& t);
  void erase(const TaskId& id);
  void cancel_on_worker(Worker& w, const TaskId& id);

  // ---- peers ----
  Boss& boss_for(std::uint64_t session);
  void worker_gone(Worker& w, const std::string& why);
  void forget_boss(Boss& b, std::string_view why);
  std::uint16_t platform_index(const std::string& platform);
  std::size_t workers_for(std::uint16_t platform) const;
  void note_room(Worker& w);
  void note_output(Worker& w);

  // ---- timers ----
  void on_timer(Clock::time_point now);
  std::string status_map() const;

  ManagerConfig config_;
  zmq::context_t context_{1};
  proto::ZapHandler zap_;
  std::string endpoint_;
  zmq::socket_t router_;
  ModuleStore modules_;
  TaskQueue queue_;
  UniqueFd wake_;
  std::string manager_id_;
  std::atomic<bool> stop_{false};

  std::unordered_map<TaskId, TaskRecord, TaskIdHash> tasks_;
  std::unordered_map<std::uint64_t, std::unique_ptr<Boss>> bosses_;
  std::vector<std::size_t> workers_per_platform_;  // by platform index
  std::vector<Worker*> with_room_;                 // workers that may take tasks
  std::vector<Worker*> with_output_;               // workers with TASKS or ACK to send
  // Failed attempts of tasks that have had one, for the final error: few
  // tasks ever have one, so the task records do not carry the field.
  std::unordered_map<TaskId, std::string, TaskIdHash> attempt_logs_;
  std::unordered_map<std::string, std::unique_ptr<Worker>> workers_;  // by routing id
  std::unordered_map<std::string, Peer> peers_;                       // by routing id
  std::unordered_map<ModuleHash, std::vector<TaskId>> waiting_for_module_;
  std::vector<std::string> platforms_;
  using Deadline = std::pair<Clock::time_point, TaskId>;
  std::priority_queue<Deadline, std::vector<Deadline>, std::greater<>> wait_deadlines_;
  std::size_t queued_ = 0;
  Clock::time_point next_heartbeat_{};
  Clock::time_point started_ = Clock::now();
  std::vector<TaskId> recovering_;
  // Direct answers to the SUBMIT being handled (queue full, refused tasks):
  // results the manager keeps no record of.
  std::vector<proto::Result> answers_;
  std::string answers_to_;

  struct Totals {
    std::uint64_t submitted = 0, completed = 0, failed = 0, requeued = 0;
    std::uint64_t module_uploads = 0, module_upload_bytes = 0;  // PUT_MODULE accepted
    std::uint64_t module_fetches = 0, module_fetch_bytes = 0;   // MODULE sent to workers
  } totals_;
};

// ---- loop ------------------------------------------------------------------------

void Manager::Impl::run() {
  log::info("manager {} listening on {}", manager_id_, endpoint_);
  zmq::pollitem_t items[] = {
      {router_.handle(), 0, ZMQ_POLLIN, 0},
      {zap_.socket().handle(), 0, ZMQ_POLLIN, 0},
      {nullptr, wake_.get(), ZMQ_POLLIN, 0},
  };
  Clock::time_point next_timer = Clock::now();
  while (!stop_) {
    auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next_timer - Clock::now());
    proto::poll(items, 3, std::max(wait, std::chrono::milliseconds(0)));
    // ZAP first: a connecting peer's handshake waits on it.
    if (items[1].revents & ZMQ_POLLIN)
      while (zap_.socket().get(zmq::sockopt::events) & ZMQ_POLLIN) zap_.handle();
    if (items[0].revents & ZMQ_POLLIN) read_messages();
    dispatch();
    flush();
    Clock::time_point now = Clock::now();
    if (now >= next_timer) {
      on_timer(now);
      dispatch();
      flush();
      next_timer = now + std::chrono::milliseconds(100);
    }
  }
  // Tell everyone connected that the manager is going; they reconnect later.
  // Peers connect with ZMQ_IMMEDIATE, and libzmq then discards what a peer
  // has not yet read when its connection drops: the connection stays open a
  // moment so that the BYEs are read, not just sent.
  for (auto& [rid, peer] : peers_) send(rid, proto::encode_bye("manager shutting down"));
  router_.set(zmq::sockopt::linger, 500);
  if (!peers_.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  log::info("manager stopped");
}

void Manager::Impl::read_messages() {
  // Bounded, so timers and the ZAP handler are served under a flood.
  for (int i = 0; i < 4096; ++i) {
    zmq::message_t rid_frame;
    if (!router_.recv(rid_frame, zmq::recv_flags::dontwait)) return;
    std::string rid = rid_frame.to_string();
    if (!rid_frame.more()) continue;
    zmq::message_t body;
    if (!router_.recv(body, zmq::recv_flags::dontwait)) return;
    bool extra = body.more();
    while (extra) {  // a peer speaking something else sent more frames: drop them
      zmq::message_t rest;
      if (!router_.recv(rest, zmq::recv_flags::dontwait)) break;
      extra = rest.more();
    }
    handle(rid, static_cast<const char*>(body.data()), body.size());
  }
}

void Manager::Impl::handle(const std::string& rid, const char* data, std::size_t size) {
  if (size > config_.max_message) {
    log::warn("refused a message of {} bytes (limit {})", size, config_.max_message);
    send(rid, proto::encode_error("too-large", "message of " + std::to_string(size) +
                                                   " bytes exceeds the manager's limit of " +
                                                   std::to_string(config_.max_message) +
                                                   " bytes (--max-message)"));
    return;
  }
  try {
    proto::Message m = proto::Message::parse(data, size);
    if (m.version() != proto::kVersion) {
      send(rid, proto::encode_error(
                    "version", "protocol version mismatch: this manager speaks version " +
                                   std::to_string(proto::kVersion) + ", the peer sent version " +
                                   std::to_string(m.version()) + " (upgrade the older side)"));
      return;
    }
    if (m.type() == proto::Type::kHello) return on_hello(rid, m);
    auto it = peers_.find(rid);
    if (it == peers_.end()) {
      // Typically a peer from before a manager restart: it says HELLO again.
      send(rid, proto::encode_error("hello-required", "unknown peer: send HELLO first"));
      return;
    }
    Peer peer = it->second;
    if (peer.boss) {
      peer.boss->last_seen = Clock::now();
      // Marked disconnected (silent too long, or a send failed) but talking
      // again: the results it missed meanwhile go out now.
      if (!peer.boss->connected) {
        peer.boss->connected = true;
        queue_missed_results(*peer.boss);
      }
    }
    if (peer.worker) peer.worker->last_seen = Clock::now();
    using proto::Type;
    switch (m.type()) {
      case Type::kHeartbeat:
        if (peer.worker) {
          peer.worker->executing = m.busy().value_or(peer.worker->executing);
          for (const TaskId& id : m.started_services()) {
            TaskRecord* t = find(id);
            if (!t || t->state != TaskState::kRunning || t->worker != peer.worker) continue;
            // Stopped before it started, but its worker had already handed it
            // to an executor (behind another task), which starts it anyway:
            // as a service would run for ever, stop it now that it runs.
            if (t->stopping && !t->started) cancel_on_worker(*peer.worker, id);
            t->started = true;
          }
        }
        return;
      case Type::kBye: return on_bye(peer, m);
      case Type::kCancel: return on_cancel(rid, m);
      case Type::kStatus: return on_status(rid);
      default: break;
    }
    if (peer.boss) {
      switch (m.type()) {
        case Type::kSubmit: on_submit(*peer.boss, m); return answer_submitter();
        case Type::kPutModule: return on_put_module(*peer.boss, m);
        case Type::kAck: return on_ack(*peer.boss, m);
        default: break;
      }
    } else {
      switch (m.type()) {
        case Type::kResult: return on_result(*peer.worker, m);
        case Type::kFetchModule: return on_fetch_module(*peer.worker, m);
        case Type::kCredit:  // 0: the worker drains and takes nothing new
          peer.worker->capacity = m.credit();
          note_room(*peer.worker);
          return;
        default: break;
      }
    }
    send(rid,
         proto::encode_error("malformed", std::string("unexpected ") + proto::type_name(m.type()) +
                                              " from a " + (peer.boss ? "boss" : "worker")));
  } catch (const proto::DecodeError& e) {
    log::warn("malformed message ({} bytes): {}", size, e.what());
    send(rid, proto::encode_error("malformed", std::string("malformed message: ") + e.what()));
  } catch (const std::exception& e) {
    // Whatever one message does (exhausts memory, say), the manager serves on.
    log::error("failed to handle a message of {} bytes: {}", size, e.what());
    send(rid,
         proto::encode_error("malformed", std::string("cannot handle this message: ") + e.what()));
  }
}

bool Manager::Impl::send(const std::string& rid, const std::string& body) {
  try {
    if (!router_.send(zmq::buffer(rid), zmq::send_flags::sndmore | zmq::send_flags::dontwait))
      return false;
    zmq::message_t frame(body.data(), body.size());
    return router_.send(frame, zmq::send_flags::dontwait).has_value();
  } catch (const zmq::error_t& e) {
    // EHOSTUNREACH: the peer is not connected (ROUTER_MANDATORY). Its state
    // stays; it is brought up to date when it says HELLO again.
    if (e.num() != EHOSTUNREACH) log::warn("send failed: {}", e.what());
    return false;
  }
}

void Manager::Impl::flush() {
  // Batches are cut at proto::kBatchBytes, far below the message limit.
  for (Worker* w : with_output_) {
    w->listed_output = false;
    const std::string& rid = w->rid;
    if (!w->acks_out.empty()) {
      send(rid, proto::encode_ack(w->acks_out));
      w->acks_out.clear();
    }
    if (w->tasks_out.empty()) continue;
    std::vector<const proto::Task*> batch;
    std::size_t bytes = 0;
    auto send_batch = [&] {
      if (batch.empty()) return;
      if (!send(rid, proto::encode_tasks(batch))) {
        // Never delivered: back to the queue, no attempt spent.
        for (const proto::Task* t : batch) {
          TaskRecord* rec = find(t->id);
          if (rec && rec->state == TaskState::kRunning && rec->worker == w) {
            unassign(*rec);
            enqueue(*rec, true);
          }
        }
      }
      batch.clear();
      bytes = 0;
    };
    for (const TaskId& id : w->tasks_out) {
      TaskRecord* rec = find(id);
      if (!rec || rec->state != TaskState::kRunning || rec->worker != w) continue;
      batch.push_back(&rec->task);
      bytes += rec->task.args.size() + rec->task.function.size() + 80;
      if (bytes > proto::kBatchBytes) send_batch();
    }
    send_batch();
    w->tasks_out.clear();
  }
  with_output_.clear();
  for (auto& [session, b] : bosses_) {
    if (b->results_out.empty()) continue;
    if (!b->connected) {
      b->results_out.clear();  // resent from the task table when it says HELLO again
      continue;
    }
    std::vector<const proto::Result*> batch;
    std::size_t bytes = 0;
    auto send_batch = [&] {
      if (batch.empty()) return;
      if (!send(b->rid, proto::encode_results(batch))) b->connected = false;
      batch.clear();
      bytes = 0;
    };
    for (const TaskId& id : b->results_out) {
      TaskRecord* rec = find(id);
      if (!rec || rec->state != TaskState::kDone || !rec->result) continue;
      batch.push_back(rec->result.get());
      bytes += rec->result->payload.size() + 96;
      if (bytes > proto::kBatchBytes) send_batch();
    }
    send_batch();
    b->results_out.clear();
  }
}

// ---- handlers --------------------------------------------------------------------

// Every finished task of the boss's session goes (again) to the boss; it
// acknowledges what it gets, and ignores what it already had.
void Manager::Impl::queue_missed_results(Boss& boss) {
  boss.results_out.clear();
  for (auto& [id, t] : tasks_)
    if (id.session == boss.session && t.state == TaskState::kDone) boss.results_out.push_back(id);
}

void Manager::Impl::on_hello(const std::string& rid, const proto::Message& m) {
  proto::Hello hello = m.hello();
  proto::Welcome welcome{manager_id_, UNI_VERSION_STRING,
                         static_cast<std::uint32_t>(config_.heartbeat.count()), config_.max_message,
                         config_.max_module};
  Clock::time_point now = Clock::now();

  if (hello.role == "boss") {
    if (auto it = peers_.find(rid); it != peers_.end() && it->second.worker)
      worker_gone(*it->second.worker, "its connection now speaks as a boss");
    Boss& boss = boss_for(hello.session);
    boss.rid = rid;
    boss.connected = true;
    boss.forgotten = false;
    boss.last_seen = now;
    boss.asked.clear();
    peers_[rid] = Peer{&boss, nullptr};
    send(rid, proto::encode_welcome(welcome));
    queue_missed_results(boss);
    log::debug("boss {:016x} connected", boss.session);
    return;
  }

  // A worker. A known routing id is the same worker process reconnecting.
  auto& slot = workers_[rid];
  bool known = slot != nullptr;
  if (!slot) slot = std::make_unique<Worker>();
  Worker& w = *slot;
  w.rid = rid;
  w.id = hello.worker_id;
  w.host = hello.host;
  w.pid = hello.pid;
  w.slots = hello.slots;
  w.capacity = hello.capacity;
  if (known) --workers_per_platform_[w.platform];
  w.platform = platform_index(hello.platform);
  if (workers_per_platform_.size() <= w.platform) workers_per_platform_.resize(w.platform + 1);
  ++workers_per_platform_[w.platform];
  w.isolation = hello.isolation;
  w.last_seen = now;
  if (!known) w.joined = now;
  peers_[rid] = Peer{nullptr, &w};
  send(rid, proto::encode_welcome(welcome));

  // Reconcile what the worker holds with what the manager believes.
  std::unordered_set<TaskId, TaskIdHash> held;
  for (const proto::RunningTask& rt : hello.running) held.insert(rt.id);
  std::vector<TaskId> lost;
  for (const TaskId& id : w.inflight)
    if (!held.count(id)) lost.push_back(id);
  for (const TaskId& id : lost) {  // sent but never received: requeue, no attempt spent
    TaskRecord* t = find(id);
    if (t) {
      unassign(*t);
      enqueue(*t, true);
    }
  }
  for (const proto::RunningTask& rt : hello.running) {
    TaskRecord* t = find(rt.id);
    if (!t) {
      // Known only to this worker (the manager restarted): adopt it. Its args
      // come back with the boss's resubmission.
      TaskRecord& rec = tasks_[rt.id];
      rec.task.id = rt.id;
      rec.task.module = rt.module;
      rec.task.function = rt.function;
      rec.task.flags = rt.flags;
      rec.task.attempt = rt.attempt;
      rec.task.max_attempts = std::max<std::uint8_t>(rt.attempt, 3);
      rec.placeholder = true;
      rec.platform = w.platform;
      rec.state = TaskState::kRunning;
      rec.worker = &w;
      w.inflight.insert(rt.id);
      ++boss_for(rt.id.session).tasks;
      modules_.pin(rt.module);
      continue;
    }
    if (t->state == TaskState::kRunning && t->worker == &w) {
      if (t->stopping) cancel_on_worker(w, rt.id);  // the first CANCEL may have been lost
      continue;
    }
    if (t->state == TaskState::kQueued || t->state == TaskState::kAwaitingBoss ||
        t->state == TaskState::kRecovering || t->state == TaskState::kWaitingModule) {
      // Not running anywhere else: the copy this worker runs is adopted. (Its
      // queue or module-wait entry is skipped when it comes up.)
      if (t->state == TaskState::kQueued) --queued_;
      t->platform = w.platform;
      t->state = TaskState::kRunning;
      t->worker = &w;
      w.inflight.insert(rt.id);
      continue;
    }
    // Done, or running elsewhere since: this copy must stop.
    cancel_on_worker(w, rt.id);
  }
  note_room(w);
  for (auto& [session, b] : bosses_) {  // a worker for a platform someone waits on
    b->waiting_since.erase(w.platform);
    b->noticed.erase(w.platform);
  }
  log::info("worker {} ({} pid {}, {} slots, {}) {}", w.id, w.host, w.pid, w.slots, w.isolation,
            known ? "reconnected" : "joined");
}

void Manager::Impl::on_submit(Boss& boss, const proto::Message& m) {
  answers_.clear();  // left over only if handling the previous SUBMIT threw (it got an ERROR)
  answers_to_ = boss.rid;
  Submission submission = read_submission(m);
  for (RefusedTask& r : submission.refused) {
    log::warn("refused task {} of boss {:016x}: {}", r.id.str(), boss.session, r.why);
    refuse(r.id, std::move(r.why));
  }
  if (!submission.unanswerable.empty()) {
    // Without an id there is nothing to answer but the message.
    log::warn("malformed task records from boss {:016x}: {}", boss.session,
              submission.unanswerable.front());
    send(boss.rid,
         proto::encode_error("malformed", "SUBMIT: a task record without a readable id: " +
                                              submission.unanswerable.front()));
  }
  Clock::time_point now = Clock::now();
  for (proto::Task& task : submission.tasks) {
    if (task.id.session != boss.session) {
      refuse(task.id, "task " + task.id.str() + " does not belong to this boss's session");
      continue;
    }
    if (TaskRecord* existing = find(task.id)) {
      // A resubmission (after a reconnect): fill in what a placeholder lacks,
      // resend a result the boss may have missed, otherwise ignore.
      if (existing->placeholder) {
        std::uint8_t attempt = existing->task.attempt;
        existing->task = std::move(task);
        existing->task.attempt = attempt;
        existing->placeholder = false;
        if (existing->state == TaskState::kAwaitingBoss) {
          // Its worker died before the boss's attempt limit was known here.
          if (existing->task.attempt > existing->task.max_attempts) {
            existing->task.attempt = existing->task.max_attempts;
            attempts_exhausted(*existing);
          } else {
            existing->state = TaskState::kQueued;
            enqueue(*existing, true);
          }
        }
      } else if (existing->state == TaskState::kDone) {
        boss.results_out.push_back(existing->task.id);
      } else if (existing->state == TaskState::kWaitingModule &&
                 boss.asked.insert(existing->task.module).second) {
        // The NEED_MODULE may have gone to the boss's previous connection.
        send(boss.rid, proto::encode_need_module(existing->task.module));
      }
      continue;
    }
    if (tasks_.size() >= config_.max_tasks) {
      proto::Result full;
      full.id = task.id;
      full.status = Status::kQueueFull;
      full.payload = "the manager holds " + std::to_string(tasks_.size()) + " tasks, its limit";
      answers_.push_back(std::move(full));
      continue;
    }
    ++totals_.submitted;
    TaskRecord& rec = tasks_[task.id];
    ++boss.tasks;
    rec.task = std::move(task);
    rec.task.attempt = 1;
    if (rec.task.max_attempts == 0) rec.task.max_attempts = 1;
    modules_.pin(rec.task.module);
    if (rec.task.wait_ms > 0)
      wait_deadlines_.emplace(now + std::chrono::milliseconds(rec.task.wait_ms), rec.task.id);
    if (const StoredModule* mod = modules_.find(rec.task.module)) {
      rec.platform = platform_index(mod->platform);
      if ((rec.task.flags & proto::kFlagResubmitted) && now < started_ + config_.recovery_window) {
        rec.state = TaskState::kRecovering;
        recovering_.push_back(rec.task.id);
      } else {
        enqueue(rec, false);
      }
    } else {
      rec.state = TaskState::kWaitingModule;
      waiting_for_module_[rec.task.module].push_back(rec.task.id);
      if (boss.asked.insert(rec.task.module).second)
        send(boss.rid, proto::encode_need_module(rec.task.module));
    }
  }
}

// A task the manager will not take is answered at once, for its id, so that
// its boss does not wait for ever: status `rejected`, and why.
void Manager::Impl::refuse(const TaskId& id, std::string why) {
  proto::Result r;
  r.id = id;
  r.status = Status::kRejected;
  r.payload = "the manager refused the task: " + why;
  answers_.push_back(std::move(r));
}

void Manager::Impl::answer_submitter() {
  if (answers_.empty()) return;
  std::vector<const proto::Result*> batch;
  for (const proto::Result& r : answers_) batch.push_back(&r);
  send(answers_to_, proto::encode_results(batch));
  answers_.clear();
}

void Manager::Impl::on_put_module(Boss& boss, const proto::Message& m) {
  proto::ModuleUpload up;
  try {
    up = m.module_upload();
  } catch (const proto::DecodeError& e) {
    // The tasks waiting for this module would wait for ever: fail them, if
    // the hash reads (otherwise the ERROR is all the boss can be told).
    if (auto hash = hash_of_upload(m))
      refuse_module(boss, *hash, std::string("malformed PUT_MODULE: ") + e.what());
    throw;
  }
  std::optional<std::string> error;
  if (up.bytes.size() > config_.max_module)
    error = "module of " + std::to_string(up.bytes.size()) +
            " bytes exceeds the manager's limit of " + std::to_string(config_.max_module) +
            " bytes (--max-module)";
  else error = modules_.put(up.hash, up.platform, std::move(up.bytes));
  if (error) {
    refuse_module(boss, up.hash, *error);
    return;
  }
  std::size_t size = modules_.find(up.hash)->bytes.size();
  ++totals_.module_uploads;
  totals_.module_upload_bytes += size;
  log::info("stored module {} ({} bytes, {})", up.hash.hex().substr(0, 12), size, up.platform);
  module_arrived(up.hash);
}

// Fails this boss's tasks that wait for a module it failed to upload; other
// bosses' tasks keep waiting, as another boss may still upload it.
void Manager::Impl::refuse_module(Boss& boss, const ModuleHash& hash, const std::string& error) {
  log::warn("module upload from boss {:016x} refused: {}", boss.session, error);
  auto it = waiting_for_module_.find(hash);
  if (it == waiting_for_module_.end()) return;
  std::vector<TaskId> keep;
  for (const TaskId& id : it->second) {
    TaskRecord* t = find(id);
    if (!t || t->state != TaskState::kWaitingModule) continue;
    if (id.session == boss.session) fail(*t, Status::kRejected, error);
    else keep.push_back(id);
  }
  if (keep.empty()) waiting_for_module_.erase(it);
  else it->second = std::move(keep);
}

void Manager::Impl::module_arrived(const ModuleHash& hash) {
  auto it = waiting_for_module_.find(hash);
  if (it == waiting_for_module_.end()) return;
  const StoredModule* mod = modules_.find(hash);
  std::uint16_t platform = platform_index(mod->platform);
  Clock::time_point now = Clock::now();
  for (const TaskId& id : it->second) {
    TaskRecord* t = find(id);
    if (!t || t->state != TaskState::kWaitingModule) continue;
    t->platform = platform;
    if ((t->task.flags & proto::kFlagResubmitted) && now < started_ + config_.recovery_window) {
      t->state = TaskState::kRecovering;
      recovering_.push_back(id);
    } else {
      enqueue(*t, false);
    }
  }
  waiting_for_module_.erase(it);
}

void Manager::Impl::on_ack(Boss& boss, const proto::Message& m) {
  for (const TaskId& id : m.task_ids()) {
    TaskRecord* t = find(id);
    if (t && t->state == TaskState::kDone && id.session == boss.session) erase(id);
  }
}

void Manager::Impl::on_cancel(const std::string& rid, const proto::Message& m) {
  std::vector<proto::CancelOutcome> outcomes;
  for (const TaskId& id : m.task_ids()) {
    TaskRecord* t = find(id);
    std::string state;
    if (!t) {
      state = "unknown";
    } else if (t->state == TaskState::kDone) {
      state = "done";
    } else if (t->state == TaskState::kRunning) {
      cancel_on_worker(*t->worker, id);
      t->stopping = true;
      state = "stopping";
    } else {
      fail(*t, Status::kCancelled, "cancelled before it started");
      state = "cancelled";
    }
    outcomes.push_back({id, state});
  }
  if (peers_.count(rid) && peers_[rid].boss) send(rid, proto::encode_cancel_reply(outcomes));
}

void Manager::Impl::on_status(const std::string& rid) {
  send(rid, proto::encode_status_reply(status_map()));
}

void Manager::Impl::on_result(Worker& w, const proto::Message& m) {
  for (proto::Result& r : m.results()) {
    w.acks_out.push_back(r.id);
    note_output(w);
    TaskRecord* t = find(r.id);
    // Only the worker the task is assigned to may complete it: a late result
    // from a worker presumed dead, or from a cancelled copy, is dropped here.
    if (!t || t->state != TaskState::kRunning || t->worker != &w) {
      log::debug("dropping result of {} from worker {}: not assigned to it", r.id.str(), w.id);
      continue;
    }
    unassign(*t);
    if (r.status == Status::kHandedBack) {  // a draining worker: not a failed attempt
      enqueue(*t, true);
      continue;
    }
    if (proto::is_retryable(r.status)) {
      attempt_failed(*t, r.payload + " on worker " + w.id + " (" + w.host + ")");
      continue;
    }
    r.worker = w.id;
    r.host = w.host;
    r.attempt = t->task.attempt;
    complete(*t, std::move(r));
  }
}

void Manager::Impl::on_fetch_module(Worker& w, const proto::Message& m) {
  ModuleHash hash = m.module_hash();
  const StoredModule* mod = modules_.find(hash);
  if (!mod) {
    send(w.rid, proto::encode_module(
                    hash, nullptr, "the manager does not have module " + hash.hex().substr(0, 12)));
    return;
  }
  ++totals_.module_fetches;
  totals_.module_fetch_bytes += mod->bytes.size();
  send(w.rid, proto::encode_module(hash, &mod->bytes, ""));
}

void Manager::Impl::on_bye(Peer peer, const proto::Message& m) {
  std::string reason = m.text();
  if (peer.worker) {
    worker_gone(*peer.worker, "it left (" + reason + ")");
  } else if (peer.boss) {
    // A boss says BYE when its Cluster closes: nobody collects its results
    // any more.
    forget_boss(*peer.boss, "left");
  }
}

// ---- task life cycle ------------------------------------------------------------------

// A task the boss cancelled while it ran, which its worker then let go
// (lost, handed back): it is over, whatever became of the run.
void Manager::Impl::end_stopped(TaskRecord& t) {
  fail(t, Status::kCancelled, "cancelled while running (its worker stopped it or was lost)");
}

bool Manager::Impl::enqueue(TaskRecord& t, bool front) {
  if (t.stopping) {
    end_stopped(t);
    return false;
  }
  if (t.placeholder) {  // cannot run without its args: wait for the boss to resubmit
    if (t.task.flags & proto::kFlagDetached) {
      // A `uni spawn` service known only from its worker's re-announcement:
      // no boss will resubmit it, and its args went with the old manager.
      fail(t, Status::kCrashed,
           "service " + t.task.function +
               " lost its worker, and its arguments were lost with a "
               "manager restart: it cannot be restarted; spawn it again");
      return false;
    }
    t.state = TaskState::kAwaitingBoss;
    return true;
  }
  t.state = TaskState::kQueued;
  ++queued_;
  queue_.push(t.platform, t.task.id.session, t.task.id, front);
  if (workers_for(t.platform) == 0) {
    Boss& b = boss_for(t.task.id.session);
    b.waiting_since.try_emplace(t.platform, Clock::now());
  }
  return true;
}

void Manager::Impl::dispatch() {
  if (queued_ == 0 || with_room_.empty()) return;
  // One task per worker per round, so that batches spread over the workers.
  std::vector<Worker*> open;
  for (Worker* w : with_room_)
    if (w->inflight.size() < w->capacity && !queue_.empty(w->platform)) open.push_back(w);
  while (!open.empty() && queued_ > 0) {
    std::size_t kept = 0;
    for (Worker* w : open) {
      std::optional<TaskId> id;
      TaskRecord* t = nullptr;
      while ((id = queue_.pop(w->platform))) {
        t = find(*id);
        if (t && t->state == TaskState::kQueued) break;
        t = nullptr;  // cancelled, failed or taken since it was queued
      }
      if (!t) continue;
      --queued_;
      t->state = TaskState::kRunning;
      t->worker = w;
      w->inflight.insert(t->task.id);
      w->tasks_out.push_back(t->task.id);
      note_output(*w);
      if (w->inflight.size() < w->capacity) open[kept++] = w;
    }
    open.resize(kept);
  }
  std::erase_if(with_room_, [](Worker* w) {
    w->listed_room = w->inflight.size() < w->capacity;
    return !w->listed_room;
  });
}

void Manager::Impl::complete(TaskRecord& t, proto::Result result) {
  if (t.state == TaskState::kQueued) --queued_;
  if (t.state == TaskState::kRunning) unassign(t);
  t.state = TaskState::kDone;
  result.id = t.task.id;
  if (result.status == Status::kOk) ++totals_.completed;
  else ++totals_.failed;
  if (t.task.flags & proto::kFlagDetached) {
    log::info("service {} ({}) ended: {}", t.task.id.str(), t.task.function,
              result.status == Status::kOk ? "returned" : result.payload);
    // Nobody waits for a detached task's result, except the `uni spawn` that
    // started it if it is still there (a service that fails at once).
    auto b = bosses_.find(t.task.id.session);
    if (b == bosses_.end() || !b->second->connected) {
      erase(t.task.id);
      return;
    }
  }
  t.result = std::make_unique<proto::Result>(std::move(result));
  boss_for(t.task.id.session).results_out.push_back(t.task.id);
}

void Manager::Impl::fail(TaskRecord& t, Status status, std::string text) {
  proto::Result r;
  r.status = status;
  r.payload = std::move(text);
  r.attempt = t.task.attempt;
  complete(t, std::move(r));
}

void Manager::Impl::attempt_failed(TaskRecord& t, const std::string& what) {
  if (t.stopping) {
    end_stopped(t);
    return;
  }
  std::string& log = attempt_logs_[t.task.id];
  if (!log.empty()) log += "; ";
  log += "attempt " + std::to_string(t.task.attempt) + ": " + what;
  if (t.task.attempt >= t.task.max_attempts) {
    attempts_exhausted(t);
    return;
  }
  ++t.task.attempt;
  if (!enqueue(t, true)) return;  // it ended instead (t may be gone)
  ++totals_.requeued;
  log::info("task {} ({}) requeued for attempt {}: {}", t.task.id.str(), t.task.function,
            t.task.attempt, what);
}

// Fails a task with the story of its attempts.
void Manager::Impl::attempts_exhausted(TaskRecord& t) {
  const std::string& log = attempt_logs_[t.task.id];
  std::uint8_t tried = std::min(t.task.attempt, t.task.max_attempts);
  std::string text = tried == 1 ? log.substr(log.find(": ") + 2)
                                : "failed " + std::to_string(tried) + " attempts: " + log;
  fail(t, Status::kCrashed, text);
}

void Manager::Impl::unassign(TaskRecord& t) {
  t.started = false;
  if (t.worker) {
    t.worker->inflight.erase(t.task.id);
    note_room(*t.worker);
  }
  t.worker = nullptr;
}

void Manager::Impl::erase(const TaskId& id) {
  auto it = tasks_.find(id);
  if (it == tasks_.end()) return;
  if (it->second.state == TaskState::kQueued) --queued_;
  unassign(it->second);
  modules_.unpin(it->second.task.module);
  if (!attempt_logs_.empty()) attempt_logs_.erase(id);
  auto b = bosses_.find(id.session);
  if (b != bosses_.end() && --b->second->tasks == 0 && b->second->forgotten) bosses_.erase(b);
  tasks_.erase(it);
}

void Manager::Impl::cancel_on_worker(Worker& w, const TaskId& id) {
  send(w.rid, proto::encode_cancel({id}));
}

// ---- peers -------------------------------------------------------------------------------

Boss& Manager::Impl::boss_for(std::uint64_t session) {
  auto& slot = bosses_[session];
  if (!slot) {
    slot = std::make_unique<Boss>();
    slot->session = session;
    slot->last_seen = Clock::now();
  }
  return *slot;
}

void Manager::Impl::worker_gone(Worker& w, const std::string& why) {
  if (w.inflight.empty()) log::info("worker {} ({} pid {}) gone: {}", w.id, w.host, w.pid, why);
  else
    log::warn("worker {} ({} pid {}) lost: {}; requeueing its {} task(s)", w.id, w.host, w.pid, why,
              w.inflight.size());
  std::vector<TaskId> inflight(w.inflight.begin(), w.inflight.end());
  for (const TaskId& id : inflight) {
    TaskRecord* t = find(id);
    if (!t) continue;
    unassign(*t);
    attempt_failed(*t, "worker " + w.id + " (" + w.host + ") lost while running " +
                           t->task.function + ": " + why);
  }
  std::string rid = w.rid;
  --workers_per_platform_[w.platform];
  std::erase(with_room_, &w);
  std::erase(with_output_, &w);
  peers_.erase(rid);
  workers_.erase(rid);  // w is gone from here on
}

// Drops a boss that left (BYE) or stayed away past its grace period: its
// tasks and results go (running ones are stopped), except detached services,
// which outlive it; the boss itself goes once it owns nothing.
void Manager::Impl::forget_boss(Boss& b, std::string_view why) {
  std::vector<TaskId> mine;
  if (b.tasks > 0)
    for (auto& [id, t] : tasks_)
      if (id.session == b.session &&
          (!(t.task.flags & proto::kFlagDetached) || t.state == TaskState::kDone))
        mine.push_back(id);
  if (!mine.empty())
    log::info("boss {:016x} {}: dropping its {} task(s) and result(s)", b.session, why,
              mine.size());
  for (const TaskId& id : mine) {
    TaskRecord* t = find(id);
    if (t->state == TaskState::kRunning && t->worker) cancel_on_worker(*t->worker, id);
    erase(id);
  }
  if (!b.rid.empty()) peers_.erase(b.rid);
  if (b.tasks == 0) {
    bosses_.erase(b.session);  // b is gone from here on
    return;
  }
  // Its services still run; the record goes with the last of them (erase).
  b.results_out.clear();
  b.connected = false;
  b.forgotten = true;
  b.rid.clear();
}

std::uint16_t Manager::Impl::platform_index(const std::string& platform) {
  for (std::size_t i = 0; i < platforms_.size(); ++i)
    if (platforms_[i] == platform) return static_cast<std::uint16_t>(i);
  platforms_.push_back(platform);
  return static_cast<std::uint16_t>(platforms_.size() - 1);
}

std::size_t Manager::Impl::workers_for(std::uint16_t platform) const {
  return platform < workers_per_platform_.size() ? workers_per_platform_[platform] : 0;
}

void Manager::Impl::note_room(Worker& w) {
  if (!w.listed_room && w.inflight.size() < w.capacity) {
    w.listed_room = true;
    with_room_.push_back(&w);
  }
}

void Manager::Impl::note_output(Worker& w) {
  if (!w.listed_output) {
    w.listed_output = true;
    with_output_.push_back(&w);
  }
}

// ---- timers ------------------------------------------------------------------------------

void Manager::Impl::on_timer(Clock::time_point now) {
  // Workers silent past the timeout are dead.
  std::vector<Worker*> dead;
  for (auto& [rid, w] : workers_)
    if (now - w->last_seen > config_.heartbeat_timeout) dead.push_back(w.get());
  for (Worker* w : dead)
    worker_gone(
        *w, "no heartbeat for " +
                seconds_text(static_cast<std::uint32_t>(config_.heartbeat_timeout.count())) + " s");

  // Bosses: away after the timeout, forgotten after the grace period.
  std::vector<Boss*> expired;
  for (auto& [session, b] : bosses_) {
    if (b->connected && now - b->last_seen > config_.heartbeat_timeout) b->connected = false;
    if (!b->connected && !b->forgotten && now - b->last_seen > config_.boss_grace)
      expired.push_back(b.get());
  }
  for (Boss* b : expired)
    forget_boss(
        *b,
        "gone for " + seconds_text(static_cast<std::uint32_t>(config_.boss_grace.count())) + " s");

  // The recovery window after a start is over: what no worker re-announced runs now.
  if (!recovering_.empty() && now >= started_ + config_.recovery_window) {
    for (const TaskId& id : recovering_)
      if (TaskRecord* t = find(id); t && t->state == TaskState::kRecovering) enqueue(*t, false);
    recovering_.clear();
  }

  // Wait limits.
  while (!wait_deadlines_.empty() && wait_deadlines_.top().first <= now) {
    TaskId id = wait_deadlines_.top().second;
    wait_deadlines_.pop();
    TaskRecord* t = find(id);
    if (!t || (t->state != TaskState::kQueued && t->state != TaskState::kWaitingModule &&
               t->state != TaskState::kRecovering))
      continue;
    std::string limit = seconds_text(t->task.wait_ms) + " s";
    if (t->state == TaskState::kWaitingModule)
      fail(*t, Status::kNoWorker, "its module did not reach the manager within " + limit);
    else
      fail(*t, Status::kNoWorker,
           "no worker for platform " + platforms_[t->platform] + " took it within " + limit);
  }

  // "Your tasks wait for a worker that is not there", once per boss and platform.
  for (auto& [session, b] : bosses_) {
    if (!b->connected) continue;
    for (auto& [platform, since] : b->waiting_since) {
      if (now - since < config_.notice_after || b->noticed.count(platform)) continue;
      if (workers_for(platform) > 0) continue;
      b->noticed.insert(platform);
      send(b->rid, proto::encode_notice("no worker for platform " + platforms_[platform] +
                                        " is connected; tasks wait in the queue until one joins"));
    }
  }

  if (now >= next_heartbeat_) {
    next_heartbeat_ = now + config_.heartbeat;
    std::string beat = proto::encode_heartbeat();
    for (auto& [rid, peer] : peers_)
      if (!peer.boss || peer.boss->connected) send(rid, beat);
  }
}

std::string Manager::Impl::status_map() const {
  msgpack::sbuffer buffer;
  msgpack::packer<msgpack::sbuffer> p(buffer);
  auto key = [&](std::string_view k) { p.pack(k); };
  Clock::time_point now = Clock::now();

  // "running" counts tasks executing, as the workers' heartbeats report them:
  // a worker also holds prefetched tasks, which are "assigned" but wait there
  // for a slot, or for their module.
  // Services are listed from submission on, queued ones too: a service that
  // waits for a worker must show its id, so that it can be stopped.
  std::size_t assigned = 0, running = 0, waiting_module = 0;
  std::vector<const TaskRecord*> services;
  for (const auto& [id, t] : tasks_) {
    if (t.state == TaskState::kRunning) ++assigned;
    if (t.state == TaskState::kWaitingModule) ++waiting_module;
    if ((t.task.flags & proto::kFlagService) && t.state != TaskState::kDone) services.push_back(&t);
  }
  std::sort(services.begin(), services.end(),
            [](const TaskRecord* a, const TaskRecord* b) { return a->task.id < b->task.id; });
  auto busy = [](const Worker& w) { return std::min<std::size_t>(w.executing, w.inflight.size()); };
  for (const auto& [rid, w] : workers_) running += busy(*w);
  std::size_t connected_bosses = 0;
  for (const auto& [s, b] : bosses_) connected_bosses += b->connected;

  p.pack_map(11);
  key("manager");
  p.pack(manager_id_);
  key("version");
  p.pack(std::string_view(UNI_VERSION_STRING));
  key("endpoint");
  p.pack(endpoint_);
  key("workers");
  std::vector<const Worker*> workers;
  for (const auto& [rid, w] : workers_) workers.push_back(w.get());
  std::sort(workers.begin(), workers.end(),
            [](const Worker* a, const Worker* b) { return a->joined < b->joined; });
  p.pack_array(static_cast<std::uint32_t>(workers.size()));
  for (const Worker* w : workers) {
    p.pack_map(10);
    key("id");
    p.pack(w->id);
    key("host");
    p.pack(w->host);
    key("pid");
    p.pack(w->pid);
    key("slots");
    p.pack(w->slots);
    key("busy");
    p.pack(busy(*w));
    key("assigned");
    p.pack(w->inflight.size());
    key("capacity");
    p.pack(w->capacity);
    key("platform");
    p.pack(platforms_[w->platform]);
    key("isolation");
    p.pack(w->isolation);
    key("last_seen_ms");
    p.pack(std::chrono::duration_cast<std::chrono::milliseconds>(now - w->last_seen).count());
  }
  key("queue");
  p.pack(queued_);
  key("waiting_for_module");
  p.pack(waiting_module);
  key("running");
  p.pack(running);
  key("assigned");
  p.pack(assigned);
  key("services");
  p.pack_array(static_cast<std::uint32_t>(services.size()));
  for (const TaskRecord* t : services) {
    p.pack_map(6);
    key("id");
    p.pack(t->task.id.str());
    key("state");
    p.pack(std::string_view(t->state != TaskState::kRunning ? "queued"
                            : t->stopping                   ? "stopping"
                            : t->started                    ? "running"
                                                            : "starting"));
    key("started");
    p.pack(t->started);
    key("worker");
    p.pack(t->worker ? t->worker->id : std::string());
    key("host");
    p.pack(t->worker ? t->worker->host : std::string());
    key("function");
    p.pack(t->task.function);
  }
  key("bosses");
  p.pack(connected_bosses);
  key("totals");
  p.pack_map(10);
  key("submitted");
  p.pack(totals_.submitted);
  key("completed");
  p.pack(totals_.completed);
  key("failed");
  p.pack(totals_.failed);
  key("requeued");
  p.pack(totals_.requeued);
  key("modules");
  p.pack(modules_.count());
  key("module_bytes");
  p.pack(modules_.bytes());
  key("module_uploads");
  p.pack(totals_.module_uploads);
  key("module_upload_bytes");
  p.pack(totals_.module_upload_bytes);
  key("module_fetches");
  p.pack(totals_.module_fetches);
  key("module_fetch_bytes");
  p.pack(totals_.module_fetch_bytes);
  return std::string(buffer.data(), buffer.size());
}

// ---- public face -------------------------------------------------------------------------

Manager::Manager(ManagerConfig config) : impl_(std::make_unique<Impl>(std::move(config))) {}
Manager::~Manager() = default;
const std::string& Manager::endpoint() const { return impl_->endpoint(); }
void Manager::run() { impl_->run(); }
void Manager::request_stop() { impl_->request_stop(); }

}  // namespace uni::manager
