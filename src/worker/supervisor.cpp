// The worker's supervisor loop and its handling of each manager message
// (docs/protocol.md). A task moves: TASKS -> fetching module -> ready ->
// running (runner) -> finished (result sent, kept until the manager's ACK).
// Everything held is re-announced in HELLO after a reconnect, and unacked
// results are sent again, so a manager restart loses nothing.
#include "worker/supervisor.hpp"

#include <pwd.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <deque>
#include <random>
#include <thread>
#include <unordered_map>

#include "broker/connect_failure.hpp"
#include "broker/worker_link.hpp"
#include "common/log.hpp"
#include "common/process.hpp"
#include "common/unique_fd.hpp"
#include "proto/messages.hpp"
#include "uni/detail/platform.hpp"
#include "worker/executor_pool.hpp"
#include "worker/module_cache.hpp"
#include "worker/service_becomes.hpp"
#include "worker/thread_runner.hpp"

namespace uni::worker {

namespace {

using Clock = std::chrono::steady_clock;
using proto::Status;
using proto::TaskId;

std::string random_id() {
  std::random_device rd;
  char out[9];
  std::snprintf(out, sizeof(out), "%08x", static_cast<unsigned>(rd()));
  return out;
}

std::string seconds_text(std::uint32_t ms) {
  char out[32];
  std::snprintf(out, sizeof(out), "%g", ms / 1000.0);
  return out;
}

enum class HeldState : std::uint8_t { kFetching, kReady, kRunning, kFinished };

struct Held {
  proto::Task task;
  HeldState state = HeldState::kFetching;
  std::uint64_t tag = 0;
  bool module_acquired = false;
  // Cancelled while waiting in an executor's pipeline: it still runs there,
  // and its result is replaced by "cancelled".
  bool cancel_on_done = false;
  // Set when the supervisor itself stops the task (timeout, cancel): the
  // executor's death then reports this instead of a crash.
  std::optional<Status> stop_status;
  std::string stop_text;
  proto::Result result;
  // proto::digest_args of its arguments, taken as they go to the runner:
  // announced after a reconnect, it shows a manager that restarted since
  // that this worker was sent the task (docs/security.md §14.4).
  std::optional<std::uint64_t> args_digest;
};

// The digest of a held task's arguments, from them if still here.
std::uint64_t digest_of(const Held& h) {
  return h.args_digest ? *h.args_digest : proto::digest_args(h.task.args);
}

// A cache store that failed this many times in a row, for want of room or
// of a writable directory, takes the worker out even if a probe passes.
constexpr unsigned kCacheFailuresTolerated = 3;
// How often a worker out of service looks at its cache again.
constexpr std::chrono::seconds kCacheRecheck{10};

}  // namespace

std::string default_cache_dir() {
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg)
    return std::string(xdg) + "/uni/modules";
  const char* home = std::getenv("HOME");
  if (!home || !*home) {
    // Never a shared directory such as /tmp: another user could plant modules.
    const passwd* pw = ::getpwuid(::getuid());
    if (!pw || !pw->pw_dir || !*pw->pw_dir)
      throw std::runtime_error("no home directory for the module cache: pass --cache-dir");
    home = pw->pw_dir;
  }
  return std::string(home) + "/.cache/uni/modules";
}

namespace {

// The worker's module cache, checked: a worker whose cache cannot be written
// would take tasks only to fail each one, so it does not start.
ModuleCache open_cache(const WorkerConfig& config) {
  const std::string dir = config.cache_dir.empty() ? default_cache_dir() : config.cache_dir;
  auto refusal = [&](const std::string& why) {
    return std::runtime_error("the module cache at " + dir + " cannot be written (" + why +
                              "): free or fix it, or pass --cache-dir with another directory");
  };
  std::optional<ModuleCache> cache;
  try {
    cache.emplace(dir, config.cache_bytes);
  } catch (const std::exception& e) {
    throw refusal(e.what());
  }
  if (std::optional<std::string> why = cache->unusable()) throw refusal(*why);
  return std::move(*cache);
}

}  // namespace

class Supervisor::Impl final : private broker::WorkerEvents {
 public:
  Impl(WorkerConfig config, std::unique_ptr<broker::WorkerLink> link)
      : config_(std::move(config)),
        id_(random_id()),
        host_(host_name()),
        link_(std::move(link)),
        cache_(open_cache(config_)),
        wake_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
    if (config_.slots == 0) config_.slots = std::max(1u, std::thread::hardware_concurrency());
    cache_.set_policy(ModulePolicy::from_files(config_.trust_files, config_.allow_module_files));
    if (cache_.policy().restricts())
      log::info("this worker runs only {}", cache_.policy().describe());
    if (config_.thread_isolation && (config_.max_tasks_per_executor || config_.max_executor_memory))
      log::warn(
          "--max-tasks-per-executor and --max-executor-memory replace executor processes: "
          "ignored under --isolation thread");
    if (config_.thread_isolation && config_.sandbox.level != SandboxLevel::kOff)
      log::warn(
          "--isolation thread: tasks run inside the worker, with its memory (its keys "
          "included), environment, files and privileges; no sandbox applies to them");
    if (config_.thread_isolation) {
      // A Python function runs in an executor process of its own, which
      // holds the interpreter: the worker's process must not.
      log::info("Python functions: not offered under --isolation thread");
      runner_ = std::make_unique<ThreadRunner>(config_.slots);
    } else {
      SandboxOptions sandbox = config_.sandbox;
      sandbox.hidden.push_back(cache_.directory());
      runner_ = std::make_unique<ExecutorPool>(
          ExecutorPoolOptions{.slots = config_.slots,
                              .mem_limit = config_.mem_limit,
                              .max_tasks = config_.max_tasks_per_executor,
                              .max_memory = config_.max_executor_memory,
                              .pid_namespace = config_.pid_namespace,
                              .sandbox = std::move(sandbox)});
    }
    becomes_.emplace(
        cache_, *runner_, [this](const ModuleHash& hash) { link_->fetch_module(hash); },
        [this](const proto::BecomeReply& reply) { link_->send_become_reply(reply); });
  }

  void run();
  void request_stop() {
    stop_ = true;
    wake();
  }
  void request_drain() {
    drain_requested_ = true;
    wake();
  }
  const std::string& id() const { return id_; }

 private:
  // broker::WorkerEvents: what the broker says.
  broker::WorkerAnnouncement announce() override;
  void on_reconnected(const broker::BrokerInfo& info) override;
  void on_tasks(std::vector<proto::Task>& tasks) override;
  void on_module(proto::ModuleReply& reply) override;
  void on_become(const proto::BecomeRequest& request) override;
  void on_cancel(const std::vector<TaskId>& ids) override;
  void on_results_stored(const std::vector<TaskId>& ids) override;
  void on_broker_leaving(const std::string& reason) override;

  broker::WorkerAnnouncement announcement() const;
  std::uint32_t capacity() const;
  std::optional<broker::BrokerInfo> connect_first();
  void on_completion(Completion& c);
  void finish(Held& h, Status status, std::string payload, std::uint32_t pid);
  void schedule();
  void flush();
  // Stops running tasks past their --timeout, and cancelled ones that were
  // waiting in a pipeline and have started since.
  void check_timeouts(Clock::time_point now);
  void update_credit();
  void wake() {
    std::uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(wake_.get(), &one, sizeof(one));
  }
  void drain(Clock::time_point now);
  // A module that could not be stored for a fault of this worker's (its
  // cache directory is gone, read-only or full): its tasks go back to the
  // queue, unharmed, and a worker that keeps failing so takes no more tasks
  // (out of service, saying why in its heartbeat) until its cache works.
  void cache_failed(const std::string& why);
  void take_out_of_service(const std::string& why);
  void recheck_cache(Clock::time_point now);
  void adapt(std::int64_t elapsed_ns);
  void rebalance();
  std::vector<TaskId> started_services() const;
  bool drained(Clock::time_point now) const;

  WorkerConfig config_;
  std::string id_;
  std::string host_;
  std::unique_ptr<broker::WorkerLink> link_;
  std::optional<ServiceBecomes> becomes_;  // BECOME requests for services running here
  ModuleCache cache_;
  std::unique_ptr<Runner> runner_;
  UniqueFd wake_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> drain_requested_{false};
  bool draining_ = false;
  bool manager_left_ = false;  // the broker said it leaves: nobody will acknowledge results
  // Why this worker takes no tasks (its module cache), or empty.
  std::string out_of_service_;
  bool note_changed_ = false;    // out_of_service_ changed: heartbeat now
  unsigned cache_failures_ = 0;  // module stores failed in a row for this worker's fault
  Clock::time_point next_cache_check_{};
  Clock::time_point drain_deadline_{};
  Clock::time_point last_flush_{};

  std::unordered_map<TaskId, Held, proto::TaskIdHash> held_;
  std::unordered_map<std::uint64_t, TaskId> by_tag_;
  std::deque<TaskId> ready_;
  std::unordered_map<ModuleHash, std::vector<TaskId>> fetching_;
  std::vector<TaskId> results_out_;
  std::uint64_t next_tag_ = 1;
  std::uint32_t credit_sent_ = 0;
  // Services handed to the runner, with their tags: they hold their slots,
  // and heartbeats say which of them have started.
  std::vector<std::pair<TaskId, std::uint64_t>> services_;
  // Adaptive prefetch (see adapt()): tasks held per free slot beyond the one
  // running, and tasks handed to each executor at once.
  double average_task_ns_ = -1;
  std::uint32_t prefetch_per_slot_ = 1;
  unsigned pipeline_depth_ = 1;
  std::chrono::milliseconds heartbeat_{1000};
  std::uint64_t max_message_ = 64ull << 20;  // the broker's limit
};

std::uint32_t Supervisor::Impl::capacity() const {
  if (draining_ || !out_of_service_.empty()) return 0;
  // The credit granted to the manager: a task per slot plus the prefetch, so
  // that an executor finishing a task finds the next one here instead of a
  // round trip away. Services hold their slot indefinitely: nothing is
  // prefetched for a slot a service holds.
  auto services = static_cast<std::uint32_t>(services_.size());
  std::uint32_t free_slots = config_.slots > services ? config_.slots - services : 0;
  return config_.slots + free_slots * prefetch_per_slot_;
}

void Supervisor::Impl::adapt(std::int64_t elapsed_ns) {
  // Exponentially weighted average of task run times; it follows a jump to
  // much longer tasks (1 ms and more) at once, since those would otherwise
  // pile up here while other workers idle, and a fall slowly.
  double sample = static_cast<double>(std::max<std::int64_t>(elapsed_ns, 1000));
  if (average_task_ns_ < 0 || (sample > 4 * average_task_ns_ && sample >= 1e6))
    average_task_ns_ = sample;
  else average_task_ns_ = 0.9 * average_task_ns_ + 0.1 * sample;
  auto power_of_two_at_most = [](double x, std::uint32_t cap) {
    std::uint32_t p = 1;
    while (p * 2 <= x && p * 2 <= cap) p *= 2;
    return p;
  };
  // Prefetch about 2 ms of work per slot: enough to hide the round trip to
  // the manager for short tasks. Tasks of 10 ms or more are not prefetched
  // at all, so that long tasks spread evenly over the workers (a task waits
  // for a free slot; the round trip is small next to the task).
  std::uint32_t prefetch =
      average_task_ns_ >= 10e6
          ? 0
          : power_of_two_at_most(2e6 / average_task_ns_, proto::kMaxPrefetchPerSlot);
  // Hand an executor up to 0.5 ms of work at once: its results come back in
  // one write. Longer tasks go one at a time, to whichever executor is free.
  unsigned depth = power_of_two_at_most(0.5e6 / average_task_ns_, 256);
  bool shrinking = prefetch < prefetch_per_slot_ || depth < pipeline_depth_;
  prefetch_per_slot_ = prefetch;
  if (depth != pipeline_depth_) {
    pipeline_depth_ = depth;
    runner_->set_pipeline_depth(depth);
  }
  // Only long tasks are worth moving: for short ones the surplus runs out
  // before another worker could start it.
  if (shrinking && average_task_ns_ >= 1e6) rebalance();
}

std::vector<TaskId> Supervisor::Impl::started_services() const {
  std::vector<TaskId> ids;
  for (const auto& [id, tag] : services_)
    if (runner_->started(tag)) ids.push_back(id);
  return ids;
}

void Supervisor::Impl::rebalance() {
  // What was prefetched for short tasks goes back to the manager, for
  // whichever worker is free first: from the executors' pipelines (beyond
  // the new depth) and from the tasks waiting here (beyond the new prefetch).
  runner_->recall(pipeline_depth_);
  std::size_t allowed = std::size_t{config_.slots} * prefetch_per_slot_;
  for (const TaskId& id : ready_) {
    auto it = held_.find(id);
    if (it == held_.end() || it->second.state != HeldState::kReady) continue;
    if (allowed > 0) {
      --allowed;
      continue;
    }
    finish(it->second, Status::kHandedBack,
           "taken back by the worker: tasks run longer than thought", 0);
  }
}

broker::WorkerAnnouncement Supervisor::Impl::announcement() const {
  broker::WorkerAnnouncement a;
  a.worker_id = id_;
  a.host = host_;
  a.pid = static_cast<std::uint32_t>(::getpid());
  a.slots = config_.slots;
  a.capacity = capacity();
  a.platform = UNI_PLATFORM_TAG;
  for (const std::string& capability : runner_->capabilities())
    a.also_platforms.push_back(UNI_PLATFORM_TAG "+" + capability);
  a.isolation = config_.thread_isolation ? "thread" : "process";
  a.held.reserve(held_.size());
  for (const auto& [id, held] : held_)
    a.held.push_back({id, held.task.module, held.task.function, held.task.flags, held.task.attempt,
                      digest_of(held)});
  return a;
}

broker::WorkerAnnouncement Supervisor::Impl::announce() {
  credit_sent_ = capacity();
  return announcement();
}

std::optional<broker::BrokerInfo> Supervisor::Impl::connect_first() {
  // Each attempt is short, so that a stop request is seen quickly.
  constexpr std::chrono::milliseconds kAttempt{2000};
  constexpr std::chrono::seconds kReminder{60};
  const Clock::time_point start = Clock::now();
  std::optional<Clock::time_point> said;
  for (;;) {
    std::chrono::milliseconds attempt = kAttempt;
    if (config_.connect_timeout.count() > 0) {
      auto left = config_.connect_timeout -
                  std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
      attempt = std::max(std::chrono::milliseconds(1), std::min(attempt, left));
    }
    const Clock::time_point tried = Clock::now();
    try {
      return link_->open(announcement(), attempt);
    } catch (const broker::ConnectFailure& e) {
      // A refusal (wrong authkey, another protocol) will not go away by waiting.
      if (e.reason() != broker::ConnectFailure::Reason::kUnreachable) throw;
      Clock::time_point now = Clock::now();
      if (config_.connect_timeout.count() > 0 && now - start >= config_.connect_timeout) throw;
      if (stop_ || drain_requested_) return std::nullopt;
      if (!said || now - *said >= kReminder) {
        const broker::BrokerIdentity& broker = link_->identity();
        if (broker.has_manager)
          log::warn(
              "waiting for a {} at {}: none has answered for {} s; retrying until one "
              "does (--connect-timeout sets a limit)",
              broker.kind, broker.address,
              std::chrono::duration_cast<std::chrono::seconds>(now - start).count());
        else  // a cluster with no manager (NATS) says why it cannot take the worker
          log::warn(
              "waiting for {}: {}; retrying until it answers (--connect-timeout sets a "
              "limit)",
              broker.name, e.what());
        said = now;
      }
      // A refused connection fails at once: the attempt's time is waited
      // out, or the worker would spin (and never yield the CPU).
      for (Clock::time_point until = tried + attempt;
           Clock::now() < until && !stop_ && !drain_requested_;)
        std::this_thread::sleep_for(
            std::min<Clock::duration>(std::chrono::milliseconds(50), until - Clock::now()));
    }
  }
}

void Supervisor::Impl::run() {
  std::optional<broker::BrokerInfo> first = connect_first();
  if (!first) {
    log::info("worker {} stopped before any {} answered", id_, link_->identity().kind);
    return;
  }
  credit_sent_ = capacity();
  heartbeat_ = first->heartbeat;
  max_message_ = first->max_message;
  log::info("worker {} connected to {} ({} slots, {} isolation, pid {})", id_,
            link_->identity().name, config_.slots, config_.thread_isolation ? "thread" : "process",
            ::getpid());

  Clock::time_point next_heartbeat = Clock::now() + heartbeat_;
  Clock::time_point next_busy_report{};
  Clock::time_point next_timeout_check{};
  std::uint32_t reported_busy = 0;
  std::vector<TaskId> reported_services;
  std::vector<broker::PollItem> items;
  std::vector<Completion> done;
  while (!stop_) {
    items.clear();
    link_->add_poll_items(items);  // first: the link's items start at 0
    const std::size_t wake_item = items.size();
    items.push_back({nullptr, wake_.get(), broker::kPollIn, 0});
    const std::size_t runner_items = items.size();
    runner_->add_poll_items(items);
    link_->poll(items, std::chrono::milliseconds(50));

    link_->process(items.data(), *this);
    if (items[wake_item].revents & broker::kPollIn) {
      std::uint64_t count;
      [[maybe_unused]] ssize_t n = ::read(wake_.get(), &count, sizeof(count));
    }
    runner_->service(&items[runner_items], done);
    for (Completion& c : done) on_completion(c);
    done.clear();
    schedule();
    Clock::time_point now = Clock::now();
    if (now >= next_timeout_check) {  // a walk over every held task: not every turn
      check_timeouts(now);
      next_timeout_check = now + std::chrono::milliseconds(10);
    }
    becomes_->poll(now);
    if (!out_of_service_.empty() && now >= next_cache_check_) recheck_cache(now);
    if (drain_requested_ || draining_) drain(now);
    update_credit();
    flush();
    if (draining_ && drained(now)) break;
    // The heartbeat tells the manager how many tasks are executing and which
    // services have started; a change is reported early (at most every
    // 20 ms) so that `uni status` and `uni spawn` are current.
    auto busy = static_cast<std::uint32_t>(runner_->executing());
    std::vector<TaskId> services = started_services();
    if (now >= next_heartbeat || note_changed_ ||
        ((busy != reported_busy || services != reported_services) && now >= next_busy_report)) {
      note_changed_ = false;
      link_->heartbeat(busy, services);
      reported_busy = busy;
      reported_services = std::move(services);
      next_heartbeat = now + heartbeat_;
      next_busy_report = now + std::chrono::milliseconds(20);
    }
  }
  link_->close("worker stopping");
  log::info("worker {} stopped", id_);
}

void Supervisor::Impl::on_reconnected(const broker::BrokerInfo& info) {
  manager_left_ = false;
  heartbeat_ = info.heartbeat;
  max_message_ = info.max_message;
  // Results the broker may not have: it acknowledges each one it gets.
  for (auto& [id, h] : held_)
    if (h.state == HeldState::kFinished) results_out_.push_back(id);
  // A module fetch may have been lost with the old connection.
  for (const auto& [hash, waiting] : fetching_)
    if (!waiting.empty()) link_->fetch_module(hash);
  for (const ModuleHash& hash : becomes_->fetching()) link_->fetch_module(hash);
}

void Supervisor::Impl::on_results_stored(const std::vector<TaskId>& ids) {
  for (const TaskId& id : ids) {
    auto it = held_.find(id);
    if (it != held_.end() && it->second.state == HeldState::kFinished) held_.erase(it);
  }
}

void Supervisor::Impl::on_broker_leaving(const std::string& reason) {
  manager_left_ = true;
  log::warn("the {} is going away ({}); waiting for it to come back", link_->identity().kind,
            reason);
}

void Supervisor::Impl::on_tasks(std::vector<proto::Task>& tasks) {
  for (proto::Task& task : tasks) {
    if (held_.count(task.id)) continue;  // a duplicate after a reconnect
    TaskId id = task.id;
    Held& h = held_[id];
    h.task = std::move(task);
    if (draining_) {  // crossed our CREDIT 0 on the way
      finish(h, Status::kHandedBack, "the worker is draining", 0);
      continue;
    }
    if (!out_of_service_.empty()) {
      finish(h, Status::kHandedBack, "worker " + id_ + " takes no tasks: " + out_of_service_, 0);
      continue;
    }
    if (cache_.acquire(h.task.module)) {
      h.module_acquired = true;
      h.state = HeldState::kReady;
      ready_.push_back(id);
      continue;
    }
    h.state = HeldState::kFetching;
    auto& waiting = fetching_[h.task.module];
    if (waiting.empty()) link_->fetch_module(h.task.module);
    waiting.push_back(id);
  }
}

void Supervisor::Impl::on_module(proto::ModuleReply& reply) {
  if (!reply.bytes && reply.error.empty())
    reply.error = "the " + link_->identity().kind + " sent no module";
  auto it = fetching_.find(reply.hash);
  if (it == fetching_.end()) return becomes_->module_arrived(reply, Clock::now());
  std::vector<TaskId> waiting = std::move(it->second);
  fetching_.erase(it);
  std::optional<std::string> error;
  bool ours = false;  // the failure is this worker's, not the module's
  if (!reply.bytes) {
    error = reply.error;
  } else {
    error = cache_.store(reply.hash, *reply.bytes, reply.signatures);
    // store() fails for bytes that do not hash to their name, for a module
    // this worker's policy refuses, or for a cache that cannot be written:
    // only the last is no fault of the tasks'.
    ours =
        error && ModuleHash::of(*reply.bytes) == reply.hash && cache_.policy().approved(reply.hash);
    if (ours) cache_failed(*error);
    else if (!error) cache_failures_ = 0;
  }
  // A refusal (--trust, --allow-modules) names the module and says why.
  const bool refused = error && reply.bytes && !cache_.policy().approved(reply.hash);
  for (const TaskId& id : waiting) {
    auto h = held_.find(id);
    if (h == held_.end() || h->second.state != HeldState::kFetching) continue;
    if (!error && cache_.acquire(reply.hash)) {
      h->second.module_acquired = true;
      h->second.state = HeldState::kReady;
      ready_.push_back(id);
    } else if (ours) {
      // Requeued, no attempt spent: another worker (or this one, once its
      // cache works) runs it.
      finish(h->second, Status::kHandedBack,
             "handed back by worker " + id_ + ", which cannot store its module: " + *error, 0);
    } else {
      finish(h->second, Status::kModuleError,
             refused ? *error
                     : "cannot fetch module " + reply.hash.hex().substr(0, 12) + ": " +
                           error.value_or("it vanished from the cache"),
             0);
    }
  }
  becomes_->module_arrived(reply, Clock::now());
  for (const std::string& path : cache_.evict()) runner_->unload(path);
}

void Supervisor::Impl::on_become(const proto::BecomeRequest& request) {
  auto it = held_.find(request.service);
  const bool service = it != held_.end() && (it->second.task.flags & proto::kFlagService);
  // The manager asks as soon as it has sent the service here: it may still
  // wait for its module or for an executor.
  if (service &&
      (it->second.state == HeldState::kFetching || it->second.state == HeldState::kReady))
    return becomes_->refuse(request, "the service has not started on this worker yet");
  const bool running = service && it->second.state == HeldState::kRunning;
  becomes_->request(request, running ? it->second.tag : 0, Clock::now());
}

void Supervisor::Impl::on_cancel(const std::vector<TaskId>& ids) {
  for (const TaskId& id : ids) {
    auto it = held_.find(id);
    if (it == held_.end()) continue;
    Held& h = it->second;
    switch (h.state) {
      case HeldState::kFetching:
      case HeldState::kReady:
        finish(h, Status::kCancelled, "cancelled before it started", 0);
        break;
      case HeldState::kRunning:
        switch (runner_->stop(h.tag)) {
          case Runner::Stop::kStopping:
            h.stop_status = Status::kCancelled;
            h.stop_text = "cancelled while running (its executor was stopped)";
            break;
          case Runner::Stop::kDropped:
            by_tag_.erase(h.tag);
            finish(h, Status::kCancelled, "cancelled before it started", 0);
            break;
          case Runner::Stop::kNotStarted: h.cancel_on_done = true; break;
          case Runner::Stop::kCannot:
            by_tag_.erase(h.tag);  // its eventual completion is ignored
            finish(h, Status::kCancelled,
                   "cancelled, but this worker runs tasks on threads (--isolation thread), which "
                   "cannot be stopped: the task keeps running until it returns, and its result is "
                   "discarded",
                   0);
            break;
        }
        break;
      case HeldState::kFinished: break;
    }
  }
}

void Supervisor::Impl::on_completion(Completion& c) {
  auto tag = by_tag_.find(c.tag);
  if (tag == by_tag_.end()) return;  // already finished (timed out or cancelled on a thread)
  TaskId id = tag->second;
  by_tag_.erase(tag);
  auto it = held_.find(id);
  if (it == held_.end()) return;
  Held& h = it->second;
  if (c.died) {
    if (h.stop_status) {
      finish(h, *h.stop_status, h.stop_text, c.pid);
    } else if (c.denied) {
      // Its own doing, and it would do it again: failed, not retried.
      finish(h, Status::kException,
             c.cause + " while running " + h.task.function +
                 " (the worker's sandbox refuses that system call; the task's executor was "
                 "stopped)",
             c.pid);
    } else {
      finish(h, Status::kCrashed, c.cause + " while running " + h.task.function, c.pid);
    }
    return;
  }
  if (h.cancel_on_done) {
    finish(h, Status::kCancelled,
           "cancelled after it had been handed to an executor; it ran, and its "
           "result was discarded",
           c.pid);
    return;
  }
  if (c.status != Status::kHandedBack) adapt(c.elapsed_ns);
  finish(h, c.status, std::move(c.payload), c.pid);
}

void Supervisor::Impl::finish(Held& h, Status status, std::string payload, std::uint32_t pid) {
  if (h.state == HeldState::kRunning && (h.task.flags & proto::kFlagService)) {
    std::erase_if(services_, [&](const auto& s) { return s.first == h.task.id; });
    becomes_->service_ended(h.tag, "the service ended during the become (" +
                                       std::string(proto::status_name(status)) + ")");
  }
  if (h.module_acquired) {
    cache_.release(h.task.module);
    h.module_acquired = false;
  }
  h.state = HeldState::kFinished;
  h.result.id = h.task.id;
  h.result.status = status;
  h.result.payload = std::move(payload);
  h.result.pid = pid;
  h.result.attempt = h.task.attempt;
  results_out_.push_back(h.task.id);
}

void Supervisor::Impl::schedule() {
  while (!ready_.empty() && runner_->room() > 0) {
    TaskId id = ready_.front();
    auto it = held_.find(id);
    if (it == held_.end() || it->second.state != HeldState::kReady) {
      ready_.pop_front();
      continue;
    }
    Held& h = it->second;
    if (!h.args_digest) h.args_digest = proto::digest_args(h.task.args);
    // The args are not needed here again: a task that must run again is sent
    // again by the manager.
    RunRequest request{next_tag_,
                       cache_.path(h.task.module),
                       h.task.function,
                       std::move(h.task.args),
                       id,
                       h.task.max_attempts == 1 || (h.task.flags & proto::kFlagService) != 0,
                       h.task.module,
                       cache_.image(h.task.module)};
    if (!runner_->start(request)) {  // in order: wait for an executor that can take it
      h.task.args = std::move(request.args);
      break;
    }
    ready_.pop_front();
    h.state = HeldState::kRunning;
    h.tag = next_tag_++;
    if (h.task.flags & proto::kFlagService) services_.emplace_back(id, h.tag);
    by_tag_[h.tag] = id;
  }
}

void Supervisor::Impl::check_timeouts(Clock::time_point now) {
  for (auto& [id, h] : held_) {
    if (h.state != HeldState::kRunning || h.stop_status) continue;
    // Cancelled while it waited in an executor's pipeline: stopped once it
    // starts, instead of running to its end for a result nobody takes.
    if (h.cancel_on_done) {
      if (runner_->started(h.tag) && runner_->stop(h.tag) == Runner::Stop::kStopping) {
        h.stop_status = Status::kCancelled;
        h.stop_text = "cancelled while running (its executor was stopped)";
      }
      continue;
    }
    if (h.task.timeout_ms == 0) continue;
    std::optional<Clock::time_point> started = runner_->started(h.tag);
    if (!started || now - *started < std::chrono::milliseconds(h.task.timeout_ms)) continue;
    std::string text = "timed out after " + seconds_text(h.task.timeout_ms) + " s";
    if (runner_->stop(h.tag) == Runner::Stop::kStopping) {
      h.stop_status = Status::kTimedOut;
      h.stop_text = text + " (its executor was stopped)";
    } else {
      by_tag_.erase(h.tag);
      finish(
          h, Status::kTimedOut,
          text +
              "; under thread isolation it cannot be stopped and keeps its thread until it returns",
          static_cast<std::uint32_t>(::getpid()));
    }
  }
}

void Supervisor::Impl::drain(Clock::time_point now) {
  if (!draining_) {
    draining_ = true;
    drain_deadline_ = now + config_.drain_timeout;
    std::size_t running = 0;
    for (auto& [id, h] : held_) running += h.state == HeldState::kRunning;
    log::info("worker {} draining: {} running task(s) get {} s to finish", id_, running,
              config_.drain_timeout.count() / 1000.0);
  }
  // Tasks that have not started go back to the manager at once.
  for (auto& [id, h] : held_)
    if (h.state == HeldState::kFetching || h.state == HeldState::kReady)
      finish(h, Status::kHandedBack, "the worker is draining", 0);
  ready_.clear();
  // With the manager gone there is nobody to wait for; past the deadline,
  // running tasks are stopped and handed back too.
  if (now < drain_deadline_ && !manager_left_) return;
  // A task stopped midway has run, partly: it counts as a failed attempt
  // (kCrashed), so that a task that must not run twice is not run again.
  // One still waiting in an executor's pipeline has not: the executor's death
  // reports it handed back.
  const std::string interrupted = "interrupted by the shutdown of worker " + id_;
  for (auto& [id, h] : held_) {
    if (h.state != HeldState::kRunning || h.stop_status) continue;
    switch (runner_->stop(h.tag, /*force=*/true)) {
      case Runner::Stop::kStopping:
        h.stop_status = Status::kCrashed;
        h.stop_text = interrupted;
        break;
      case Runner::Stop::kDropped:
      case Runner::Stop::kNotStarted:
        by_tag_.erase(h.tag);
        finish(h, Status::kHandedBack, "the worker is draining", 0);
        break;
      case Runner::Stop::kCannot:
        by_tag_.erase(h.tag);
        finish(h, Status::kCrashed, interrupted + " (it keeps running on its thread)", 0);
        break;
    }
  }
}

void Supervisor::Impl::cache_failed(const std::string& why) {
  ++cache_failures_;
  log::error("{}; its tasks go back to the queue for another worker", why);
  std::optional<std::string> broken = cache_.unusable();
  if (!broken && cache_failures_ < kCacheFailuresTolerated) return;
  take_out_of_service("its module cache at " + cache_.dir() +
                      " cannot be written: " + broken.value_or(why));
}

void Supervisor::Impl::take_out_of_service(const std::string& why) {
  if (out_of_service_.empty())
    log::error("worker {} takes no tasks: {}; it checks again every {} s", id_, why,
               kCacheRecheck.count());
  out_of_service_ = why;
  note_changed_ = true;
  link_->set_note("takes no tasks: " + why);
  next_cache_check_ = Clock::now() + kCacheRecheck;
  // What waits here goes back at once; what runs finishes.
  for (auto& [id, h] : held_)
    if (h.state == HeldState::kFetching || h.state == HeldState::kReady)
      finish(h, Status::kHandedBack, "worker " + id_ + " takes no tasks: " + why, 0);
  ready_.clear();
}

void Supervisor::Impl::recheck_cache(Clock::time_point now) {
  if (std::optional<std::string> why = cache_.unusable()) {
    next_cache_check_ = now + kCacheRecheck;
    return;
  }
  log::info("worker {}: its module cache at {} can be written again; it takes tasks again", id_,
            cache_.dir());
  out_of_service_.clear();
  cache_failures_ = 0;
  note_changed_ = true;
  link_->set_note("");
}

bool Supervisor::Impl::drained(Clock::time_point now) const {
  bool running = false, unacked = false;
  for (const auto& [id, h] : held_) {
    running |= h.state != HeldState::kFinished;
    unacked |= h.state == HeldState::kFinished;
  }
  if (running) return false;
  // Results are acknowledged within a round trip; if not after a second, the
  // manager is not there to take them (it will requeue on its own).
  return !unacked || manager_left_ || now - last_flush_ > std::chrono::seconds(1);
}

void Supervisor::Impl::update_credit() {
  std::uint32_t now = capacity();
  if (now != credit_sent_ && link_->grant_credit(now)) credit_sent_ = now;
}

void Supervisor::Impl::flush() {
  if (results_out_.empty()) return;
  // A result must fit in a message the broker accepts, with room to spare;
  // one that does not becomes an error that says so (the manager would drop
  // it, and the connection with it). The link cuts the rest into batches.
  const std::size_t budget = max_message_ / 2;
  std::vector<const proto::Result*> results;
  results.reserve(results_out_.size());
  for (const TaskId& id : results_out_) {
    auto it = held_.find(id);
    if (it == held_.end() || it->second.state != HeldState::kFinished) continue;
    proto::Result& r = it->second.result;
    if (r.payload.size() > budget) {
      log::warn("result of task {} is {} bytes, more than the {} accepts", id.str(),
                r.payload.size(), link_->identity().kind);
      r.status = Status::kRejected;
      r.payload = "its result of " + std::to_string(r.payload.size()) +
                  " bytes is larger than a result may be (" + std::to_string(budget) +
                  " bytes: half the " + link_->identity().kind + "'s" +
                  (link_->identity().has_manager ? " --max-message)" : " largest message)");
    }
    results.push_back(&r);
  }
  results_out_.clear();
  // Unsent (no connection) is fine: finished tasks stay held and are sent
  // again after the next reconnection.
  if (!results.empty()) link_->send_results(results);
  last_flush_ = Clock::now();
}

// ---- public face -------------------------------------------------------------------------

Supervisor::Supervisor(WorkerConfig config, std::unique_ptr<broker::WorkerLink> link)
    : impl_(std::make_unique<Impl>(std::move(config), std::move(link))) {}
Supervisor::~Supervisor() = default;
void Supervisor::run() { impl_->run(); }
void Supervisor::request_stop() { impl_->request_stop(); }
void Supervisor::request_drain() { impl_->request_drain(); }
const std::string& Supervisor::id() const { return impl_->id(); }

}  // namespace uni::worker
