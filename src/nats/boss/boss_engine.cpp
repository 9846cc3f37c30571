// BossEngine: a publisher thread (modules, task batches, cancels, waiting for
// the streams' answers) and a result thread (the session's subscription,
// replays from the stream, wait limits). Tasks whose queue and module are
// known are published on the submitting thread when the publisher is idle.
// No job is dropped when the cluster does not answer: it is put back and
// tried again (the same message ids, so a batch is stored once), and the
// boss says so if that lasts.
#include "nats/boss/boss_engine.hpp"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <queue>
#include <set>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <variant>

#include "common/log.hpp"
#include "common/process.hpp"
#include "common/wake_fd.hpp"
#include "nats/boss/boss_heartbeat.hpp"
#include "nats/boss/cluster_status.hpp"
#include "nats/boss/task_audit.hpp"
#include "nats/client/async_publisher.hpp"
#include "nats/client/error.hpp"
#include "nats/store/cancel_channel.hpp"
#include "nats/store/module_store.hpp"
#include "nats/store/registry.hpp"
#include "nats/store/result_stream.hpp"
#include "nats/store/task_queue.hpp"

namespace uni::nats {

namespace {

using Clock = std::chrono::steady_clock;
using proto::Status;
using proto::TaskId;

struct SubmitJob {
  std::string platform;
  std::vector<proto::Task> tasks;
};
struct ModuleJob {
  ModuleHash hash;
  std::string platform, bytes;
  std::vector<std::string> signatures;
};
struct CancelJob {
  std::vector<TaskId> ids;
  std::vector<proto::Result> results;  // `cancelled`, stored for `uni result`
};
using Job = std::variant<SubmitJob, ModuleJob, CancelJob>;

// A batch published and not yet confirmed by its stream.
struct Batch {
  std::string platform;
  std::vector<proto::Task> tasks;
};

// How long tasks published on a submitting thread wait for the publisher
// thread to confirm them (and republish what failed transiently).
constexpr std::chrono::milliseconds kConfirmAfter{20};
// How long the stream's answers are awaited (transient failures published
// again meanwhile) before the batches still unconfirmed are put back as
// jobs, their stream opened again (created, if it went) and tried anew.
constexpr std::chrono::milliseconds kConfirmFor{10000};
// Jobs the cluster did not take are tried again after this, doubling up to
// kMaxHoldBack.
constexpr std::chrono::milliseconds kFirstHoldBack{200};
constexpr std::chrono::milliseconds kMaxHoldBack{2000};
// A closing boss stores what it was given for at most this long when the
// cluster does not answer, then gives up, saying how many tasks it lost.
constexpr std::chrono::seconds kCloseLimit{10};
// And the publisher's last try this much longer, before the connection is
// closed under it.
constexpr std::chrono::seconds kCloseGrace{1};
// After this long without a result while tasks are out, the boss checks that
// the cluster still holds them (TaskAudit); while it does, the pause before
// the next check doubles, up to kMaxAuditInterval.
constexpr std::chrono::milliseconds kAuditAfter{5000};
constexpr std::chrono::milliseconds kMaxAuditInterval{60000};

proto::Result failed(const proto::Task& task, Status status, std::string text) {
  proto::Result r;
  r.id = task.id;
  r.status = status;
  r.payload = std::move(text);
  r.attempt = task.attempt;
  return r;
}

std::string seconds_text(std::uint32_t ms) {
  return ms % 1000 == 0 ? std::to_string(ms / 1000) : std::to_string(ms / 1000.0);
}

}  // namespace

struct BossEngine::Impl {
  Impl(EngineConfig c, std::uint64_t s)
      : config(std::move(c)),
        session(s),
        connection(Connection::connect(config.connect)),
        js(connection, config.api_timeout),
        // Handles only: the streams are made (or checked) by the publisher
        // before its first job, retried through leader elections, so that
        // a boss starts as soon as a server takes its connection.
        results(ResultStream::bind(js, config.names)),
        cancels(CancelChannel::bind(js, config.names)),
        modules(ModuleStore::bind(js, config.names)),
        feed(results.subscribe(session)),
        publisher(connection, {.ack_timeout = std::min<std::chrono::milliseconds>(
                                   config.api_timeout, std::chrono::milliseconds(5000))}) {
    max_payload = connection.max_payload();
    publish_thread = std::thread([this] {
      publish_loop();
      std::lock_guard lock(mutex);
      publisher_done = true;
      publisher_ended.notify_all();
    });
    result_thread = std::thread([this] { result_loop(); });
    audit_thread = std::thread([this] { audit_loop(); });
  }

  ~Impl() {
    {
      std::unique_lock lock(mutex);
      stopping = true;
      stop_deadline = Clock::now() + kCloseLimit;
      jobs_changed.notify_all();
      audit_wake.notify_all();
      // A cluster that does not answer would hold each thread for its
      // requests' timeouts, one after another (a reopen is several): past
      // the close limit the connection is closed, and they all fail at once.
      // An interrupted command ends in bounded time.
      if (!publisher_ended.wait_until(lock, stop_deadline + kCloseGrace,
                                      [&] { return publisher_done; })) {
        lock.unlock();
        log::debug("NATS: closing: the cluster did not answer in {} s; closing the connection",
                   kCloseLimit.count());
        natsConnection_Close(connection.get());
      }
    }
    publish_thread.join();
    audit_thread.join();
    result_thread.join();
    publisher.forget_callbacks();
  }

  // ---- shared with the polling thread (under `mutex`) ----
  void post(Job job) {
    {
      std::lock_guard lock(mutex);
      jobs.push_back(std::move(job));
    }
    jobs_changed.notify_one();
  }

  void deliver(std::vector<proto::Result>& found) {
    bool any = false;
    {
      std::lock_guard lock(mutex);
      for (proto::Result& r : found) {
        if (r.status == Status::kQueueFull) {
          events.results.push_back(std::move(r));
          any = true;
          continue;
        }
        if (!proto::is_final(r.status) || outstanding.erase(r.id) == 0) continue;
        watch_started.erase(r.id);
        events.results.push_back(std::move(r));
        any = true;
      }
      if (any) last_result = last_answer = Clock::now();
    }
    if (any) wake.signal();
  }

  void notify(std::string text, std::optional<ModuleHash> needed = std::nullopt) {
    {
      std::lock_guard lock(mutex);
      if (needed) events.modules_needed.push_back(*needed);
      else events.notices.push_back(std::move(text));
    }
    wake.signal();
  }

  // ---- the publisher thread ----
  void publish_loop() {
    for (;;) {
      {
        std::unique_lock lock(mutex);
        if (!wait_for_work(lock)) return;
      }
      // Taken before the jobs, so that a submit that finds no job waiting
      // and the publisher free cannot overtake earlier jobs.
      std::lock_guard publishing(publish_mutex);
      std::deque<Job> todo;
      {
        std::lock_guard lock(mutex);
        if (Clock::now() >= hold_back_until) todo.swap(jobs);
        confirm_due = false;
      }
      const bool worked = !todo.empty();
      bool ok = run_jobs(todo);
      ok = confirm() && ok;
      if (ok && worked) publishing_works();
      if (ok) heard();
    }
  }

  // Waits until there are jobs to run (not held back) or published tasks
  // to confirm (under `mutex`). False: the engine stops and nothing is left,
  // or what is left could not be stored before the close limit.
  bool wait_for_work(std::unique_lock<std::mutex>& lock) {
    for (;;) {
      const Clock::time_point now = Clock::now();
      if (stopping && !jobs.empty() && now >= stop_deadline) give_up_jobs();
      if (stopping && jobs.empty() && !confirm_due) return false;
      if (!jobs.empty() && now >= hold_back_until) return true;
      if (confirm_due) {
        // Tasks published on a submitting thread are confirmed together a
        // little later, not each at once: a thread woken per task would
        // take a CPU from that task's way through the server and the worker.
        if (jobs.empty())
          jobs_changed.wait_for(lock, kConfirmAfter, [&] { return stopping || !jobs.empty(); });
        return true;
      }
      if (jobs.empty()) {
        jobs_changed.wait(lock, [&] { return stopping || confirm_due || !jobs.empty(); });
        continue;
      }
      Clock::time_point until = hold_back_until;
      if (stopping) until = std::min(until, stop_deadline);
      jobs_changed.wait_until(lock, until);
    }
  }

  // The engine is closing and the cluster did not take these in time
  // (under `mutex`): said, and dropped.
  void give_up_jobs() {
    std::size_t tasks = 0;
    for (const Job& job : jobs)
      if (const auto* submit = std::get_if<SubmitJob>(&job)) tasks += submit->tasks.size();
    log::warn(
        "NATS: closing: {} task(s) and {} other request(s) were not stored in the cluster "
        "within {} s ({}); they are lost with this boss",
        tasks, jobs.size(), kCloseLimit.count(), failure_text);
    jobs.clear();
  }

  // Runs jobs in order. A job the cluster did not take is put back, with
  // those after it, to be tried again after a pause: nothing is dropped.
  // False if that happened.
  bool run_jobs(std::deque<Job>& todo) {
    if (todo.empty()) return true;
    if (reopen_stores) {
      try {
        reopen();
      } catch (const std::exception& e) {
        hold_back(todo, e.what());
        return false;
      }
    }
    while (!todo.empty()) {
      std::vector<Job> next;
      try {
        next = std::visit([this](auto& j) { return run(j); }, todo.front());
      } catch (const std::exception& e) {
        hold_back(todo, e.what());
        return false;
      }
      todo.pop_front();
      todo.insert(todo.begin(), std::make_move_iterator(next.begin()),
                  std::make_move_iterator(next.end()));
    }
    return true;
  }

  // Puts `todo` back before the jobs posted meanwhile, held back for a
  // while; the stores are opened again first (a stream may have gone).
  // While this lasts, the boss counts the cluster as silent (last_answer()),
  // and the client tells the user, with `why`.
  void hold_back(std::deque<Job>& todo, const std::string& why) {
    {
      std::lock_guard lock(mutex);
      const Clock::time_point now = Clock::now();
      if (!failing_since) failing_since = now;
      failure_text = why;
      hold_back_for =
          hold_back_for.count() == 0 ? kFirstHoldBack : std::min(kMaxHoldBack, 2 * hold_back_for);
      hold_back_until = now + hold_back_for;
      jobs.insert(jobs.begin(), std::make_move_iterator(todo.begin()),
                  std::make_move_iterator(todo.end()));
    }
    todo.clear();
    reopen_stores = true;
    log::debug("NATS: the cluster did not take what this boss sends ({}); trying again", why);
  }

  // A round went through: the failures are over.
  void publishing_works() {
    std::lock_guard lock(mutex);
    failing_since.reset();
    failure_text.clear();
    hold_back_for = {};
  }

  // The cluster answered this boss.
  void heard() {
    std::lock_guard lock(mutex);
    last_answer = Clock::now();
  }

  // Before the first job and after a failure: the streams and stores this
  // boss writes, opened (each created if it is missing, or gone), and the
  // task queues with them.
  void reopen() {
    // The result thread reads `results`: only its stream is made again.
    ResultStream::open(js, config.names,
                       {.replicas = config.replicas, .max_age = config.result_max_age});
    cancels = CancelChannel::open(js, config.names, {.replicas = config.replicas});
    modules = ModuleStore::open(js, config.names, {.replicas = config.replicas});
    queues.clear();
    reopen_stores = false;
  }

  TaskQueue& queue_for(const std::string& platform) {
    auto it = queues.find(platform);
    if (it != queues.end()) return it->second;
    TaskQueue queue = TaskQueue::open(js, config.names, platform, {.replicas = config.replicas});
    if (hinted_platforms.insert(platform).second) {
      try {  // a hint, as the manager gives one: tasks wait until a worker comes
        WorkerRegistry registry =
            WorkerRegistry::open(js, config.names, {.replicas = config.replicas});
        std::vector<WorkerEntry> workers = registry.list();
        bool any = std::any_of(workers.begin(), workers.end(),
                               [&](const WorkerEntry& w) { return w.platform == platform; });
        if (!any)
          notify("no worker for platform " + platform +
                 " is registered in the NATS cluster yet; the tasks wait in stream " +
                 queue.stream() + " until one comes");
      } catch (const std::exception& e) {
        log::debug("NATS: cannot list the workers: {}", e.what());
      }
    }
    return queues.emplace(platform, std::move(queue)).first->second;
  }

  // Whether the module is stored; if not, it is asked of the boss (once).
  // Throws if the store does not answer.
  bool module_ready(const ModuleHash& hash) {
    if (known_modules.count(hash)) return true;
    if (modules.contains(hash)) {
      known_modules.insert(hash);
      return true;
    }
    if (requested_modules.insert(hash).second) notify("", hash);
    return false;
  }

  // Publishes on the calling thread if nothing is waiting for the publisher
  // thread and the job needs no network round trip first (its queue is open,
  // its modules stored): one hand-over less between submit and the stream.
  // The publisher thread still waits for the stream's answers. False: post it.
  bool publish_now(SubmitJob& job) {
    std::unique_lock publishing(publish_mutex, std::try_to_lock);
    if (!publishing.owns_lock()) return false;
    {
      std::lock_guard lock(mutex);
      if (!jobs.empty()) return false;
    }
    if (reopen_stores || !queues.count(job.platform)) return false;
    for (const proto::Task& task : job.tasks)
      if (!known_modules.count(task.module) || parked.count(task.module)) return false;
    run(job);  // needs no request: cannot fail
    bool was_due = false;
    {
      std::lock_guard lock(mutex);
      was_due = std::exchange(confirm_due, true);
    }
    if (!was_due) jobs_changed.notify_one();  // else it is woken by kConfirmAfter
    return true;
  }

  // Throws, leaving `job` whole, if the cluster does not answer what must be
  // asked first (the queue's stream, whether its modules are stored).
  std::vector<Job> run(SubmitJob& job) {
    queue_for(job.platform);
    std::unordered_map<ModuleHash, bool> ready_module;
    for (const proto::Task& task : job.tasks)
      if (!ready_module.count(task.module))
        ready_module[task.module] = !parked.count(task.module) && module_ready(task.module);
    // Nothing below asks the cluster: nothing below throws.
    std::vector<proto::Task> ready;
    ready.reserve(job.tasks.size());
    for (proto::Task& task : job.tasks) {
      if (ready_module[task.module]) {
        ready.push_back(std::move(task));
        continue;
      }
      // Tasks that wait for their module go out together once it is
      // stored, packed as a map's tasks are, not one to a message.
      std::vector<Batch>& waiting = parked[task.module];
      if (waiting.empty() || waiting.back().platform != job.platform)
        waiting.push_back({job.platform, {}});
      waiting.back().tasks.push_back(std::move(task));
    }
    publish_tasks(job.platform, ready);
    return {};
  }

  // Stores the module, then its parked tasks go out (as jobs of their own,
  // next). Throws, leaving `job` whole, if the store does not take it.
  std::vector<Job> run(ModuleJob& job) {
    modules.put(job.hash, job.platform, job.bytes, job.signatures);
    known_modules.insert(job.hash);
    requested_modules.erase(job.hash);
    std::vector<Job> next;
    auto it = parked.find(job.hash);
    if (it == parked.end()) return next;
    for (Batch& b : it->second) next.emplace_back(SubmitJob{b.platform, std::move(b.tasks)});
    parked.erase(it);
    return next;
  }

  std::vector<Job> run(CancelJob& job) {
    // Each store is tried briefly: the job is tried again as a whole (a
    // cancel stored twice does no harm), and a closing boss is not held up.
    PublishOptions options;
    options.retry_for = std::chrono::seconds(2);
    std::map<std::uint64_t, std::vector<TaskId>> by_session;
    for (const TaskId& id : job.ids) by_session[id.session].push_back(id);
    for (auto& [s, ids] : by_session) cancels.cancel(s, ids, options);
    std::map<std::uint64_t, std::vector<const proto::Result*>> stored;
    for (const proto::Result& r : job.results) stored[r.id.session].push_back(&r);
    for (auto& [s, list] : stored) {
      options.msg_id = "cancel-" + list.front()->id.str() + "-" + std::to_string(list.size());
      results.publish(s, list, options);
    }
    return {};
  }

  // Cuts the tasks into messages and publishes them without waiting for
  // each answer; confirm() waits for all. The queue is open (run() opened
  // it): nothing here throws.
  void publish_tasks(const std::string& platform, std::vector<proto::Task>& tasks) {
    if (tasks.empty()) return;
    TaskQueue& queue = queues.at(platform);
    const std::size_t limit =
        std::min<std::size_t>(config.batch_bytes, static_cast<std::size_t>(max_payload) - 1024);
    std::vector<proto::Task> current;
    std::size_t bytes = 0;
    auto flush = [&] {
      if (current.empty()) return;
      std::vector<const proto::Task*> ptrs;
      for (const proto::Task& t : current) ptrs.push_back(&t);
      std::string data = proto::encode_tasks(ptrs);
      if (data.size() + 512 > static_cast<std::size_t>(max_payload)) {
        std::vector<proto::Result> refused;
        for (const proto::Task& t : current)
          refused.push_back(failed(t, Status::kRejected,
                                   "the task is " + std::to_string(data.size()) +
                                       " bytes encoded, over the NATS server's max payload of " +
                                       std::to_string(max_payload) + " bytes"));
        deliver(refused);
      } else {
        std::string id = TaskQueue::batch_id(ptrs);
        // Submitted again (the cluster lost it): a new id, or the stream
        // would drop it as a duplicate of the message it lost.
        if (ptrs.front()->flags & proto::kFlagResubmitted)
          id += "-again" + std::to_string(resubmit_round.load());
        std::string subject = queue.subject_for(ptrs.front()->id.session, ptrs.size());
        {
          std::lock_guard lock(mutex);
          inflight[id] = {platform, std::move(current)};
        }
        try {
          publisher.publish(subject, data, id,
                            [this, id](const NatsError* failure) { answered(id, failure); });
        } catch (const NatsError& e) {
          // Not even sent: a refusal (e.g. the payload); a lost connection
          // is kept by the publisher and sent again.
          answered(id, &e);
        }
      }
      current.clear();
      bytes = 0;
    };
    for (proto::Task& task : tasks) {
      std::size_t size = task.function.size() + task.args.size() + 64;
      if (!current.empty() && (current.size() >= config.batch_tasks || bytes + size > limit ||
                               task.id.session != current.front().id.session ||
                               (task.flags & proto::kFlagResubmitted) !=
                                   (current.front().flags & proto::kFlagResubmitted)))
        flush();
      bytes += size;
      current.push_back(std::move(task));
    }
    flush();
  }

  // The stream's answer for batch `id` (on nats.c's thread): stored, or
  // refused for good (a full queue): its tasks come back as kQueueFull.
  void answered(const std::string& id, const NatsError* failure) {
    std::vector<proto::Result> back;
    {
      std::lock_guard lock(mutex);
      auto it = inflight.find(id);
      if (it == inflight.end()) return;  // answered already (published twice)
      if (failure != nullptr)
        for (const proto::Task& t : it->second.tasks)
          back.push_back(
              failed(t, Status::kQueueFull, std::string("not queued: ") + failure->what()));
      else last_answer = Clock::now();
      inflight.erase(it);
    }
    if (!back.empty()) deliver(back);
  }

  // Waits until the streams answered for every batch sent (republishing
  // what failed transiently). Batches still unanswered after kConfirmFor
  // (or at the close limit) are put back as jobs: published again with the
  // same ids, into a queue opened again, so each is stored once. False if
  // that happened.
  bool confirm() {
    {
      std::lock_guard lock(mutex);
      if (inflight.empty()) return true;
    }
    std::chrono::milliseconds limit = kConfirmFor;
    {
      std::lock_guard lock(mutex);
      if (stopping)
        limit = std::clamp(
            std::chrono::duration_cast<std::chrono::milliseconds>(stop_deadline - Clock::now()),
            std::chrono::milliseconds(1), kConfirmFor);
    }
    std::string why;
    try {
      publisher.finish(limit);
    } catch (const NatsError& e) {
      why = e.what();
    }
    std::deque<Job> again;
    {
      std::lock_guard lock(mutex);
      for (auto& [id, b] : inflight) again.emplace_back(SubmitJob{b.platform, std::move(b.tasks)});
      inflight.clear();
    }
    if (again.empty()) return true;
    hold_back(again, why.empty() ? "the task streams did not answer" : why);
    return false;
  }

  // ---- the audit thread ----
  // Checks, when results have not come for a while, that the cluster still
  // holds the tasks it stored; the ones it lost are handed up to be
  // submitted again. Its requests never hold up the other threads.
  void audit_loop() {
    TaskAudit audit(js, config.names, session);
    std::chrono::milliseconds interval = kAuditAfter;
    Clock::time_point last_audit = Clock::now();
    std::unique_lock lock(mutex);
    while (!stopping) {
      if (last_result > last_audit) interval = kAuditAfter;  // results flow again
      const Clock::time_point due = std::max(last_result, last_audit) + interval;
      if (Clock::now() < due) {
        audit_wake.wait_until(lock, due);
        continue;
      }
      last_audit = Clock::now();
      if (outstanding.empty()) continue;
      lock.unlock();
      std::vector<TaskId> lost;
      std::vector<std::string> gone;
      try {
        lost = audit.lost(
            stored_tasks(), [this](std::vector<proto::Result>& r) { deliver(r); }, gone);
      } catch (const std::exception& e) {
        log::debug("NATS: checking that the cluster holds this boss's tasks: {}", e.what());
      }
      if (!gone.empty()) reopen_stores = true;
      report_lost(lost);
      lock.lock();
      last_audit = Clock::now();
      interval = lost.empty() ? std::min(kMaxAuditInterval, 2 * interval) : kAuditAfter;
    }
  }

  // This session's tasks without a result that the cluster confirmed
  // storing, by platform: not those waiting to be published, nor those
  // published and unanswered, nor those handed up as lost and not back.
  std::map<std::string, std::vector<TaskId>> stored_tasks() {
    std::lock_guard publishing(publish_mutex);  // `parked` is the publisher's
    std::lock_guard lock(mutex);
    std::unordered_set<TaskId, proto::TaskIdHash> unstored(resubmitting.begin(),
                                                           resubmitting.end());
    for (const Job& job : jobs)
      if (const auto* submit = std::get_if<SubmitJob>(&job))
        for (const proto::Task& t : submit->tasks) unstored.insert(t.id);
    for (const auto& [id, batch] : inflight)
      for (const proto::Task& t : batch.tasks) unstored.insert(t.id);
    for (const auto& [hash, batches] : parked)
      for (const Batch& b : batches)
        for (const proto::Task& t : b.tasks) unstored.insert(t.id);
    std::map<std::string, std::vector<TaskId>> out;
    for (const auto& [id, platform] : outstanding)
      if (id.session == session && !unstored.count(id)) out[platform_names[platform]].push_back(id);
    return out;
  }

  void report_lost(const std::vector<TaskId>& lost) {
    std::vector<TaskId> still;
    {
      std::lock_guard lock(mutex);
      for (const TaskId& id : lost)
        if (outstanding.count(id) && resubmitting.insert(id).second) still.push_back(id);
      if (still.empty()) return;
      ++resubmit_round;
      std::sort(still.begin(), still.end());
      events.lost.insert(events.lost.end(), still.begin(), still.end());
      events.notices.push_back(
          "the NATS cluster no longer holds " + std::to_string(still.size()) +
          " task(s) of this boss that it had stored (the first: " + still.front().str() +
          "; lost with a node, or their stream was purged or deleted); submitting them again");
    }
    log::debug("NATS: {} task(s) of this boss were lost by the cluster", still.size());
    wake.signal();
  }

  // ---- the heartbeat's (BossHeartbeat) ----
  BossEntry boss_entry() {
    BossEntry e;
    e.session = session;
    e.host = host;
    e.pid = static_cast<std::uint32_t>(::getpid());
    e.connected_ms = connected_ms;
    e.at_ms = unix_ms_now();
    std::lock_guard lock(mutex);
    e.outstanding = outstanding.size();
    e.submitted = submitted_count;
    for (auto it = open_services.begin(); it != open_services.end();) {
      if (!outstanding.count(it->first)) {  // ended
        it = open_services.erase(it);
        continue;
      }
      e.services.push_back({it->first.str(), it->second});
      ++it;
    }
    return e;
  }

  // ---- the result thread ----
  void result_loop() {
    std::uint64_t reconnects_seen = connection.reconnects();
    Clock::time_point last_replay = Clock::now();
    for (;;) {
      {
        std::lock_guard lock(mutex);
        if (stopping) return;
      }
      std::vector<proto::Result> got;
      try {
        got = feed.next(std::chrono::milliseconds(100));
      } catch (const std::exception& e) {
        log::debug("NATS: reading results: {}", e.what());
      }
      if (!got.empty()) deliver(got);
      // The live subscription misses what was published while this boss's
      // connection was down (or a route dropped): read the stream itself
      // after a reconnect, and when results are overdue.
      Clock::time_point now = Clock::now();
      bool reconnected = connection.reconnects() != reconnects_seen;
      bool overdue = false;
      {
        std::lock_guard lock(mutex);
        overdue = !outstanding.empty() && now - last_result > std::chrono::seconds(2) &&
                  now - last_replay > std::chrono::seconds(2);
      }
      if (reconnected || overdue) {
        reconnects_seen = connection.reconnects();
        last_replay = now;
        replay();
      }
      expire_waits(now);
      if (now >= next_service_check) {
        report_started_services();
        next_service_check = now + std::chrono::milliseconds(100);
      }
    }
  }

  // `uni spawn` waits until its service runs: a worker puts it in the
  // services bucket once it reports it executing.
  void report_started_services() {
    std::vector<TaskId> watched;
    {
      std::lock_guard lock(mutex);
      watched.assign(watch_started.begin(), watch_started.end());
    }
    if (watched.empty()) return;
    try {
      if (!services)
        services.emplace(ServiceRegistry::open(js, config.names, {.replicas = config.replicas}));
      std::vector<TaskId> started;
      for (const TaskId& id : watched)
        if (services->find(id.str())) started.push_back(id);
      if (started.empty()) return;
      {
        std::lock_guard lock(mutex);
        for (const TaskId& id : started)
          if (watch_started.erase(id)) events.services_started.push_back(id);
      }
      wake.signal();
    } catch (const std::exception& e) {
      log::debug("NATS: looking for started services: {}", e.what());
    }
  }

  void replay() {
    try {
      std::vector<StoredResults> stored = results.read(session, replay_from);
      std::vector<proto::Result> found;
      for (StoredResults& s : stored) {
        replay_from = s.stream_seq + 1;
        for (proto::Result& r : s.results) found.push_back(std::move(r));
      }
      if (!found.empty()) deliver(found);
    } catch (const std::exception& e) {
      log::debug("NATS: replaying the results of this session: {}", e.what());
    }
  }

  // A task that no worker took within its wait limit ends `no-worker`, as on
  // the built-in manager; its cancel keeps a worker from running it later.
  void expire_waits(Clock::time_point now) {
    std::vector<proto::Result> expired;
    std::vector<TaskId> ids;
    {
      std::lock_guard lock(mutex);
      while (!wait_deadlines.empty() && wait_deadlines.top().at <= now) {
        WaitDeadline d = wait_deadlines.top();
        wait_deadlines.pop();
        if (!outstanding.count(d.id)) continue;
        proto::Result r;
        r.id = d.id;
        r.status = Status::kNoWorker;
        r.payload = "no worker for platform " + d.platform + " took it within " +
                    seconds_text(d.wait_ms) + " s";
        expired.push_back(std::move(r));
        ids.push_back(d.id);
      }
    }
    if (expired.empty()) return;
    post(CancelJob{ids, expired});
    deliver(expired);
  }

  EngineConfig config;
  std::uint64_t session;
  Connection connection;
  JetStream js;
  ResultStream results;
  CancelChannel cancels;
  ModuleStore modules;
  ResultFeed feed;
  AsyncPublisher publisher;
  std::int64_t max_payload = 1 << 20;

  WakeFd wake;
  mutable std::mutex mutex;
  std::condition_variable jobs_changed;
  bool stopping = false;
  bool confirm_due = false;  // published on a submitting thread: wait for the answers
  std::deque<Job> jobs;
  BossEvents events;
  // Tasks submitted without a final result yet, and the platform of each
  // (an index into platform_names).
  std::unordered_map<TaskId, std::uint32_t, proto::TaskIdHash> outstanding;
  std::vector<std::string> platform_names;
  std::map<std::string, std::uint32_t> platform_index;
  // Handed up as lost, not yet submitted again.
  std::unordered_set<TaskId, proto::TaskIdHash> resubmitting;
  std::condition_variable audit_wake;
  // Counts the losses told: a batch submitted again gets a new message id.
  std::atomic<std::uint32_t> resubmit_round{0};
  std::uint64_t max_submitted_seq = 0;  // of this session: higher ids are unknown
  std::set<std::string> platforms;      // submitted to
  Clock::time_point last_result = Clock::now();
  struct WaitDeadline {
    Clock::time_point at;
    TaskId id;
    std::string platform;
    std::uint32_t wait_ms;
    bool operator>(const WaitDeadline& o) const { return at > o.at; }
  };
  std::priority_queue<WaitDeadline, std::vector<WaitDeadline>, std::greater<>> wait_deadlines;

  // Batches published and not yet answered, by message id (under `mutex`:
  // answered on nats.c's thread).
  std::unordered_map<std::string, Batch> inflight;
  // The publisher's failures (under `mutex`): since when, why, and until
  // when the jobs are held back.
  std::optional<Clock::time_point> failing_since;
  std::string failure_text;
  std::chrono::milliseconds hold_back_for{0};
  Clock::time_point hold_back_until{};
  Clock::time_point stop_deadline = Clock::time_point::max();
  bool publisher_done = false;  // its thread has ended (under `mutex`)
  std::condition_variable publisher_ended;
  // The last answer of the cluster to this boss (under `mutex`).
  Clock::time_point last_answer = Clock::now();

  // The publisher's own: its thread's, or a submitting thread's that holds
  // publish_mutex (publish_now).
  std::mutex publish_mutex;
  std::map<std::string, TaskQueue> queues;
  std::set<std::string> hinted_platforms;  // told "no worker yet" about
  std::unordered_set<ModuleHash> known_modules, requested_modules;
  std::unordered_map<ModuleHash, std::vector<Batch>> parked;
  // Before the first job, and after a failure: the streams are (re)made.
  std::atomic<bool> reopen_stores{true};
  std::set<TaskId> watch_started;  // services whose start the boss waits for
  // The result thread's own.
  std::uint64_t replay_from = 1;
  Clock::time_point next_service_check{};
  std::optional<ServiceRegistry> services;

  // For the heartbeat's entry (under `mutex`).
  std::uint64_t submitted_count = 0;
  std::map<TaskId, std::string> open_services;  // services submitted, not ended: id -> function
  const std::int64_t connected_ms = unix_ms_now();
  const std::string host = host_name();

  std::thread publish_thread, result_thread, audit_thread;
  // Last: stopped first, after the threads above (the last id recorded).
  BossHeartbeat heartbeat{js,
                          config,
                          session,
                          [this] {
                            std::lock_guard lock(mutex);
                            return max_submitted_seq;
                          },
                          [this] { return boss_entry(); },
                          [this] { heard(); }};
};

BossEngine::BossEngine(EngineConfig config, std::uint64_t session)
    : impl_(std::make_unique<Impl>(std::move(config), session)) {}

BossEngine::~BossEngine() = default;

int BossEngine::wake_fd() const { return impl_->wake.fd(); }

BossEvents BossEngine::take() {
  impl_->wake.drain();
  BossEvents out;
  std::lock_guard lock(impl_->mutex);
  std::swap(out, impl_->events);
  return out;
}

void BossEngine::submit(const std::string& platform, std::vector<proto::Task> tasks) {
  if (tasks.empty()) return;
  {
    std::lock_guard lock(impl_->mutex);
    Clock::time_point now = Clock::now();
    impl_->platforms.insert(platform);
    auto [where, added] = impl_->platform_index.emplace(platform, impl_->platform_names.size());
    if (added) impl_->platform_names.push_back(platform);
    for (const proto::Task& t : tasks) {
      impl_->resubmitting.erase(t.id);
      // A task given again (lost by the cluster) is not counted twice.
      if (impl_->outstanding.emplace(t.id, where->second).second) ++impl_->submitted_count;
      if (t.id.session == impl_->session)
        impl_->max_submitted_seq = std::max(impl_->max_submitted_seq, t.id.seq);
      if ((t.flags & proto::kFlagService) && (t.flags & proto::kFlagStartedEvent))
        impl_->watch_started.insert(t.id);
      if (t.flags & proto::kFlagService) impl_->open_services.emplace(t.id, t.function);
      if (t.wait_ms > 0)
        impl_->wait_deadlines.push(
            {now + std::chrono::milliseconds(t.wait_ms), t.id, platform, t.wait_ms});
    }
  }
  SubmitJob job{platform, std::move(tasks)};
  if (!impl_->publish_now(job)) impl_->post(std::move(job));
}

void BossEngine::put_module(const ModuleHash& hash, std::string platform, std::string bytes,
                            std::vector<std::string> signatures) {
  impl_->post(ModuleJob{hash, std::move(platform), std::move(bytes), std::move(signatures)});
}

std::vector<proto::CancelOutcome> BossEngine::cancel(const std::vector<proto::TaskId>& ids) {
  using proto::CancelState;
  std::vector<proto::CancelOutcome> outcomes;
  std::vector<proto::Result> ended;  // ended here: `cancelled` results to store
  std::vector<TaskId> to_stop;       // cancels for the workers
  std::optional<ServiceRegistry> services;
  // A cluster that does not answer is asked once per cancel, not once per id:
  // a map's thousands of ids would wait a timeout each (an interrupted map
  // that never ended).
  bool services_unreachable = false, ledger_unreachable = false;
  // A service a worker reports running is stopped by that worker, which
  // stores its `cancelled` result; other tasks cannot be told queued from
  // running (a worker may hold them fetched), so they end here.
  auto running_service = [&](const TaskId& id) {
    if (services_unreachable) return false;
    try {
      if (!services)
        services.emplace(ServiceRegistry::open(impl_->js, impl_->config.names,
                                               {.replicas = impl_->config.replicas}));
      return services->find(id.str()).has_value();
    } catch (const std::exception& e) {
      log::debug("NATS: looking for service {}: {}", id.str(), e.what());
      services_unreachable = !services.has_value();
      return false;
    }
  };
  // Whether another session handed out `id` (a boss records its highest id
  // as it grows, `uni submit` its one task before publishing it).
  std::optional<SessionLedger> ledger;
  auto handed_out = [&](const TaskId& id) {
    if (ledger_unreachable) return true;
    try {
      if (!ledger)
        ledger.emplace(SessionLedger::open(impl_->js, impl_->config.names, impl_->config.replicas,
                                           impl_->config.result_max_age));
      std::optional<std::uint64_t> max_seq = ledger->max_seq(id.session);
      return max_seq && id.seq <= *max_seq;
    } catch (const std::exception& e) {
      // Cannot tell: as before the ledger, taken as submitted.
      log::debug("NATS: looking up session {}: {}", session_hex(id.session), e.what());
      ledger_unreachable = !ledger.has_value();
      return true;
    }
  };
  for (const TaskId& id : ids) {
    CancelState state;
    if (id.session == impl_->session) {
      bool outstanding = false, submitted = false, service = false;
      {
        std::lock_guard lock(impl_->mutex);
        outstanding = impl_->outstanding.count(id) > 0;
        submitted = id.seq <= impl_->max_submitted_seq;
        service = impl_->open_services.count(id) > 0;
      }
      // Only a service of its own can be running as one: a map's tasks
      // are not looked up in the cluster.
      if (!outstanding) state = submitted ? CancelState::kDone : CancelState::kUnknown;
      else
        state = service && running_service(id) ? CancelState::kStopping : CancelState::kCancelled;
    } else if (impl_->results.find(id)) {  // another boss's task (uni stop)
      state = CancelState::kDone;
    } else if (running_service(id)) {
      state = CancelState::kStopping;
    } else {
      state = handed_out(id) ? CancelState::kCancelled : CancelState::kUnknown;
    }
    outcomes.emplace_back(id, state);
    // An unknown id of another session is still told to the workers: a boss
    // killed within 100 ms of a submit may not have recorded it.
    if (state == CancelState::kStopping ||
        (state == CancelState::kUnknown && id.session != impl_->session))
      to_stop.push_back(id);
    if (state != CancelState::kCancelled) continue;
    // Skipped by the worker that fetches it; a worker that already holds
    // it stops it, and its own result is then dropped.
    to_stop.push_back(id);
    proto::Result r;
    r.id = id;
    r.status = Status::kCancelled;
    r.payload = "cancelled";
    ended.push_back(r);
  }
  if (!to_stop.empty()) impl_->post(CancelJob{to_stop, ended});
  std::vector<proto::Result> local;
  for (const proto::Result& r : ended)
    if (r.id.session == impl_->session) local.push_back(r);
  if (!local.empty()) impl_->deliver(local);
  return outcomes;
}

proto::StatusReport BossEngine::status() {
  std::vector<std::string> platforms;
  {
    // The platforms this boss submitted to; read_cluster_status adds the
    // workers' own.
    std::lock_guard lock(impl_->mutex);
    platforms.assign(impl_->platforms.begin(), impl_->platforms.end());
  }
  return read_cluster_status(impl_->js, impl_->config, platforms);
}

BossEngine::Clock::time_point BossEngine::last_answer() const {
  std::lock_guard lock(impl_->mutex);
  // While what it sends is not taken, the cluster is not answering it.
  return impl_->failing_since ? std::min(impl_->last_answer, *impl_->failing_since)
                              : impl_->last_answer;
}

std::string BossEngine::trouble() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->failure_text;
}

std::size_t BossEngine::outstanding() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->outstanding.size();
}

Connection& BossEngine::connection() { return impl_->connection; }
const EngineConfig& BossEngine::config() const { return impl_->config; }

}  // namespace uni::nats
