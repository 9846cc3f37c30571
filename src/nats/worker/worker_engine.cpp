// WorkerEngine: a fetch thread (batches within the credit, in-progress, the
// exhausted sweeper), the result path (results published as they come, a few
// messages in flight; a message's tasks end and their batches are acked when
// the stream has stored it), a cancel thread, and a chores thread (modules,
// registry entries).
#include "nats/worker/worker_engine.hpp"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "common/log.hpp"
#include "common/wake_fd.hpp"
#include "nats/client/async_publisher.hpp"
#include "nats/client/error.hpp"
#include "nats/store/cancel_channel.hpp"
#include "nats/store/module_store.hpp"
#include "nats/store/registry.hpp"
#include "nats/store/result_stream.hpp"
#include "nats/store/task_consumer.hpp"
#include "nats/worker/chore_thread.hpp"
#include "nats/worker/exhausted_tasks.hpp"
#include "nats/worker/store_messages.hpp"
#include "nats/worker/worker_tally.hpp"
#include "proto/platforms.hpp"

namespace uni::nats {

namespace {

using Clock = std::chrono::steady_clock;
using proto::Status;
using proto::TaskId;
using std::chrono::milliseconds;

std::int64_t wall_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// One fetched message and the tasks of it not yet ended (result stored or
// requeued); acked when none is left.
struct HeldBatch {
  TaskDelivery delivery;
  std::size_t remaining = 0;
};

// The queue of one platform the worker serves, its consumer and its
// exhausted batches: its own tag, and the tag with each capability it has.
struct Feed {
  Feed(JetStream& js, const EngineConfig& config, const std::string& platform)
      : queue(TaskQueue::open(js, config.names, platform, {.replicas = config.replicas})),
        consumer(TaskConsumer::bind(
            queue, config.names, {.ack_wait = config.ack_wait, .max_deliver = config.max_deliver})),
        exhausted(ExhaustedTasks::open(queue, config.names, config.replicas)) {}
  TaskQueue queue;
  TaskConsumer consumer;
  ExhaustedTasks exhausted;
};

// A held batch's key: its feed in the top byte, its stream sequence below
// (two streams number their messages alike).
std::uint64_t batch_key(std::size_t feed, std::uint64_t stream_seq) {
  return (std::uint64_t{feed} << 56) | stream_seq;
}

struct HeldTask {
  proto::Task task;
  // The identity that submitted it, named by its message's subject (""
  // for none): its result goes to that identity's subject. Interned in
  // Impl::owners.
  const std::string* owner = nullptr;
  std::uint64_t batch = 0;  // batch_key of its message
  std::size_t feed = 0;     // the queue it came from (a requeue goes back there)
  bool supervised = false;  // given to the supervisor (else ended here)
  bool finished = false;    // its result came back (being stored)
  // A service's becomes (`uni become`); `task` has the code it became.
  std::uint32_t becomes = 0;
};

// Result messages in flight at once. One would make a worker wait a stream
// round trip (a quorum's, on three replicas) between stores while results
// pile up; a few keep storing while batching what comes meanwhile.
constexpr std::size_t kStoresInFlight = 4;
// Tasks finished and not yet stored beyond which no more are fetched (the
// result stream is not answering: do not run ahead of it without bound).
constexpr std::size_t kMaxUnstored = 20000;

}  // namespace

struct WorkerEngine::Impl {
  Impl(EngineConfig c, WorkerIdentity who)
      : config(std::move(c)),
        identity(std::move(who)),
        connection(Connection::connect(config.connect)),
        js(connection),
        results(ResultStream::open(
            js, config.names, {.replicas = config.replicas, .max_age = config.result_max_age})),
        cancels(CancelChannel::open(js, config.names, {.replicas = config.replicas})),
        cancel_feed(cancels.follow()),
        modules(ModuleStore::open(js, config.names, {.replicas = config.replicas})),
        workers(WorkerRegistry::open(js, config.names, {.replicas = config.replicas})),
        services(ServiceRegistry::open(js, config.names, {.replicas = config.replicas})),
        publisher(connection) {
    max_payload = connection.max_payload();
    feeds.push_back(std::make_unique<Feed>(js, config, identity.platform));
    for (const std::string& platform : identity.also_platforms)
      feeds.push_back(std::make_unique<Feed>(js, config, platform));
    workers.announce(entry(0));
    for (std::size_t i = 0; i < feeds.size(); ++i)
      fetch_threads.emplace_back([this, i] { fetch_loop(i); });
    result_thread = std::thread([this] { result_loop(); });
    cancel_thread = std::thread([this] { cancel_loop(); });
  }

  ~Impl() {
    {
      std::lock_guard lock(mutex);
      stopping = true;
    }
    fetch_changed.notify_all();
    results_changed.notify_all();
    for (std::thread& t : fetch_threads) t.join();
    result_thread.join();  // stores what was sent before it stops
    publisher.forget_callbacks();
    cancel_thread.join();
    chores.stop();
    std::lock_guard lock(mutex);
    for (auto& [seq, batch] : batches) {
      try {
        batch.delivery.nak();  // to another worker now, not after ack-wait
      } catch (const std::exception& e) {
        log::debug("NATS: giving back batch {}: {}", seq, e.what());
      }
    }
    try {
      workers.leave(identity.id);
    } catch (const std::exception& e) {
      log::debug("NATS: leaving the registry: {}", e.what());
    }
  }

  // The registry entry, with the counts `uni status` sums (under `mutex`).
  WorkerEntry entry(std::uint32_t busy) {
    WorkerEntry e{
        identity.id,    identity.host, identity.platform, identity.isolation, identity.pid,
        identity.slots, busy};
    e.also_platforms = identity.also_platforms;
    e.assigned = held.size();
    for (const auto& [seq, batch] : batches) e.fetched += batch.delivery.tasks().size();
    e.completed = tally.completed;
    e.failed = tally.failed;
    e.cancelled = tally.cancelled;
    e.requeued = tally.requeued;
    e.started_ms = tally.started_ms;
    e.at_ms = unix_ms_now();
    e.tasks_per_s = tally.rate_now();
    e.note = note;
    return e;
  }

  bool stopped() {
    std::lock_guard lock(mutex);
    return stopping;
  }

  // ---- fetching ----
  // One per feed; they share the credit (a batch may take it past it, as
  // with one feed).
  void fetch_loop(std::size_t feed) {
    TaskConsumer& consumer = feeds[feed]->consumer;
    const milliseconds progress_every = std::max(milliseconds(100), config.ack_wait / 3);
    const milliseconds fetch_wait =
        std::clamp(config.ack_wait / 6, milliseconds(20), milliseconds(500));
    Clock::time_point next_progress = Clock::now() + progress_every;
    Clock::time_point next_sweep{};
    // The last fetch found nothing: the next one waits for a single message
    // at once, without asking first for what is there (a round trip that
    // would only find nothing again, while a task that comes meanwhile waits
    // for the waiting request to reach the server).
    bool idle = false;
    while (!stopped()) {
      Clock::time_point now = Clock::now();
      if (now >= next_progress) {
        in_progress();
        next_progress = now + progress_every;
      }
      if (now >= next_sweep) {
        sweep_exhausted(*feeds[feed]);
        next_sweep = Clock::now() + std::chrono::seconds(1);
      }
      std::size_t room = 0;
      {
        std::unique_lock lock(mutex);
        // The credit is for tasks not yet finished: a finished task waiting
        // for its result to be stored holds no slot.
        room = credit > running ? credit - running : 0;
        if (supervised - running > kMaxUnstored) room = 0;
        if (room == 0) {
          fetch_changed.wait_for(lock, milliseconds(50));
          continue;
        }
      }
      try {
        // About one message per 100 tasks of room: a few messages at once
        // when the worker is hungry, one when it is nearly full.
        int messages = static_cast<int>(std::clamp<std::size_t>(room / config.batch_tasks, 1, 8));
        std::vector<TaskDelivery> got = consumer.fetch(idle ? 1 : messages, fetch_wait);
        idle = got.empty();
        for (TaskDelivery& d : got) accept(feed, std::move(d));
      } catch (const NatsError& e) {
        if (e.kind() != FailureKind::kTimeout) {
          log::debug("NATS: fetching tasks: {}", e.what());
          std::this_thread::sleep_for(milliseconds(100));
        }
      }
    }
  }

  void accept(std::size_t feed, TaskDelivery delivery) {
    const DeliveryInfo info = delivery.info();
    const std::uint64_t key = batch_key(feed, info.stream_seq);
    const std::int64_t now_ns = wall_ns();
    std::vector<proto::Result> ended;
    bool gave = false;
    {
      std::lock_guard lock(mutex);
      auto existing = batches.find(key);
      if (existing != batches.end()) {
        // Redelivered while still here (a progress signal came late): the
        // tasks run on; the newer delivery is the one to ack.
        existing->second.delivery = std::move(delivery);
        return;
      }
      std::vector<proto::Task> tasks = delivery.tasks();
      const std::string* owner =
          &*owners
                .insert(config.names.task_owner(feeds[feed]->queue.platform(), delivery.subject()))
                .first;
      HeldBatch& batch = batches.emplace(key, HeldBatch{std::move(delivery), 0}).first->second;
      for (proto::Task& task : tasks) {
        if (held.count(task.id)) continue;  // the same task in two messages: run once
        ++batch.remaining;
        std::optional<proto::Result> end = reason_not_to_run(feed, task, info, now_ns);
        HeldTask& h = held[task.id];
        h.batch = key;
        h.feed = feed;
        h.owner = owner;
        h.supervised = !end;
        if (end) {
          ended.push_back(std::move(*end));
          h.task = std::move(task);
          continue;
        }
        ++supervised;
        ++running;
        h.task = task;
        events.tasks.push_back(std::move(task));
        gave = true;
      }
      if (batch.remaining == 0) {
        batch.delivery.ack();
        batches.erase(key);
      }
      for (proto::Result& r : ended) outbox.push_back(std::move(r));
    }
    if (!ended.empty()) results_changed.notify_one();
    if (gave) wake.signal();
  }

  // Why a fetched task must not run, as its result; nullopt if it may.
  std::optional<proto::Result> reason_not_to_run(std::size_t feed, const proto::Task& task,
                                                 const DeliveryInfo& info, std::int64_t now_ns) {
    auto result = [&](Status status, std::string text) {
      proto::Result r;
      r.id = task.id;
      r.status = status;
      r.payload = std::move(text);
      r.attempt = task.attempt;
      return r;
    };
    if (cancelled.count(task.id)) return result(Status::kCancelled, "cancelled");
    if (task.attempt > task.max_attempts)
      return result(Status::kCrashed,
                    "not run again: " + std::to_string(task.attempt - 1) +
                        " attempts ended without a result (the worker running it died or "
                        "stalled; attempt limit " +
                        std::to_string(task.max_attempts) + ")");
    if (task.wait_ms > 0 && info.timestamp_ns > 0 &&
        now_ns - info.timestamp_ns > std::int64_t{task.wait_ms} * 1'000'000 &&
        !(task.flags & proto::kFlagResubmitted))
      return result(Status::kNoWorker, "no worker for " +
                                           proto::platform_need(feeds[feed]->queue.platform()) +
                                           " took it within its wait limit of " +
                                           std::to_string(task.wait_ms) + " ms");
    return std::nullopt;
  }

  void in_progress() {
    std::lock_guard lock(mutex);
    for (auto& [seq, batch] : batches) {
      try {
        batch.delivery.in_progress();
      } catch (const std::exception& e) {
        log::debug("NATS: in-progress for batch {}: {}", seq, e.what());
      }
    }
  }

  // Batches whose every delivery went unacknowledged: their tasks fail.
  void sweep_exhausted(Feed& feed) {
    try {
      feed.exhausted.fail_waiting(results, identity.id, identity.host);
    } catch (const std::exception& e) {
      log::debug("NATS: sweeping exhausted batches: {}", e.what());
    }
  }

  // ---- results ----
  // Results go out as they come (on the caller's thread while fewer than
  // kStoresInFlight messages are in flight, else here once one is stored,
  // batched), and transient failures are published again here. When
  // stopping, what was given is stored before the thread ends.
  void result_loop() {
    int failed_round = 0;
    for (;;) {
      bool stop = false;
      {
        std::unique_lock lock(mutex);
        results_changed.wait_for(lock, milliseconds(100), [&] {
          bool held_back = Clock::now() < hold_until;
          return stopping || (!held_back && (!retry_stores.empty() ||
                                             (!outbox.empty() && in_flight < kStoresInFlight)));
        });
        stop = stopping;
      }
      publish_results();
      republish_refused();
      if (publisher.failed_count() > 0) {
        backoff_sleep(++failed_round);
        publisher.retry_failed();
      } else {
        failed_round = 0;
      }
      if (stop) break;
    }
    // Stopping: store what is left, then wait for every answer.
    for (int round = 0; round < 3; ++round) {
      {
        std::lock_guard lock(mutex);
        hold_until = {};
      }
      republish_refused();
      publish_results(true);
      try {
        publisher.finish();
      } catch (const std::exception& e) {
        log::warn("NATS: storing the last results: {} (their tasks run again elsewhere)", e.what());
      }
      std::lock_guard lock(mutex);
      if (outbox.empty()) break;
    }
  }

  // Publishes the outbox if the window allows (always when `force`).
  void publish_results(bool force = false) {
    std::vector<StoreMessage> stores;
    bool told = false;
    {
      std::lock_guard lock(mutex);
      if (outbox.empty() || (!force && in_flight >= kStoresInFlight) || Clock::now() < hold_until)
        return;
      std::vector<proto::Result> batch(std::make_move_iterator(outbox.begin()),
                                       std::make_move_iterator(outbox.end()));
      outbox.clear();
      told = prepare(batch, stores);
      in_flight += stores.size();
    }
    if (told) wake.signal();
    for (StoreMessage& store : stores) send(std::make_shared<StoreMessage>(std::move(store)));
  }

  // Sorts results into messages (under `mutex`): final results by boss
  // session, several to a message; kHandedBack ones and retryable crashes
  // as one-task messages to the queue. True if the supervisor is to be told.
  bool prepare(std::vector<proto::Result>& batch, std::vector<StoreMessage>& stores) {
    ResultsBySession by_session;
    bool told = false;
    // Tasks given back together (a supervisor recalling its prefetch) go
    // out together: a message per task would cost the stream a message each.
    // By the queue they came from and the identity that submitted them.
    std::map<std::pair<std::size_t, const std::string*>, Requeues> requeued;
    for (proto::Result& r : batch) {
      r.worker = identity.id;
      r.host = identity.host;
      r.pid = identity.pid;
      auto it = held.find(r.id);
      if (it == held.end()) continue;  // ended already (a duplicate, or requeued before a retry)
      bool retry =
          r.status == Status::kHandedBack ||
          (proto::is_retryable(r.status) && it->second.task.attempt < it->second.task.max_attempts);
      if (retry) {
        proto::Task again = it->second.task;
        if (r.status != Status::kHandedBack) {
          ++tally.requeued;
          log::info("task {} ({}) requeued for attempt {}: {}", r.id.str(), again.function,
                    again.attempt + 1, r.payload);
          ++again.attempt;
        }
        // Forgotten now, so that its new message, which may come back to
        // this worker at once, is not taken for a duplicate; its old batch
        // is acked only once the new message is stored.
        Requeues& to = requeued[{it->second.feed, it->second.owner}];
        to.tasks.push_back(std::move(again));
        to.from_batch.push_back(it->second.batch);
        told |= forget(it);
      } else if (proto::is_final(r.status)) {
        if (r.payload.size() + 1024 > max_payload) {
          std::size_t size = r.payload.size();
          r.status = Status::kRejected;
          r.payload = "its result of " + std::to_string(size) +
                      " bytes is larger than the NATS server's max payload of " +
                      std::to_string(max_payload) + " bytes";
        }
        by_session[{*it->second.owner, r.id.session}].push_back(std::move(r));
      }
    }
    const std::size_t limit = std::min<std::size_t>(256 << 10, max_payload - 1024);
    const MessageIds ids{identity.id, published};
    for (auto& [where, list] : requeued)
      pack_requeues(list.tasks, list.from_batch, feeds[where.first]->queue, *where.second,
                    config.batch_tasks, std::min(limit, config.batch_bytes), ids, stores);
    pack_results(by_session, config.names, limit, ids, stores);
    return told;
  }

  // Publishes one message; its tasks end when the stream stored it.
  void send(std::shared_ptr<StoreMessage> store) {
    auto on_stored = [this, store](const NatsError* failure) { stored(store, failure); };
    try {
      publisher.publish(store->subject, store->data, store->msg_id, on_stored);
    } catch (const NatsError& e) {
      stored(store, &e);
    }
  }

  // The stream's answer for one message (on nats.c's thread, or the sender's).
  void stored(const std::shared_ptr<StoreMessage>& store, const NatsError* failure) {
    std::vector<TaskId> done;
    bool more = false;  // for the result thread: results waiting, or a retry
    {
      std::lock_guard lock(mutex);
      --in_flight;
      if (failure != nullptr) {
        // Refused for good (a full or missing stream): try again in a
        // while; the tasks stay held (and in progress) meanwhile.
        log::warn("NATS: storing {} failed ({}); trying again in 1 s", store->msg_id,
                  failure->what());
        retry_stores.push_back(store);
        hold_until = Clock::now() + std::chrono::seconds(1);
      } else if (!store->requeue_of.empty()) {
        for (std::uint64_t seq : store->requeue_of) settle(seq);
      } else {
        for (const proto::Result& r : store->results) {
          done.push_back(r.id);
          tally.count(r.status);
        }
      }
      more = !outbox.empty() || !retry_stores.empty();
    }
    if (!done.empty()) end_tasks(done);
    // The window has room again: what piled up in the outbox goes now.
    if (more) results_changed.notify_one();
  }

  // Messages refused for good, published again after hold_until.
  void republish_refused() {
    std::vector<std::shared_ptr<StoreMessage>> again;
    {
      std::lock_guard lock(mutex);
      if (retry_stores.empty() || Clock::now() < hold_until) return;
      again.swap(retry_stores);
      in_flight += again.size();
    }
    for (std::shared_ptr<StoreMessage>& store : again) send(std::move(store));
  }

  // Drops a held task (under `mutex`); true if the supervisor is to be told.
  bool forget(std::unordered_map<TaskId, HeldTask, proto::TaskIdHash>::iterator it) {
    bool told = false;
    const TaskId id = it->first;
    if (it->second.supervised) {
      events.stored.push_back(id);
      --supervised;
      if (!it->second.finished) --running;
      told = true;
    }
    if (it->second.task.flags & proto::kFlagService) {
      announced_services.erase(id);
      chores.post([this, id] { services.remove(id.str()); });
    }
    held.erase(it);
    return told;
  }

  // One task of batch `seq` ended (under `mutex`): ack it after its last.
  void settle(std::uint64_t seq) {
    auto b = batches.find(seq);
    if (b == batches.end() || --b->second.remaining > 0) return;
    try {
      b->second.delivery.ack();
    } catch (const std::exception& e) {
      log::warn("NATS: acking batch {}: {} (it will run again elsewhere)", seq, e.what());
    }
    batches.erase(b);
  }

  void end_tasks(const std::vector<TaskId>& done) {
    bool told = false;
    {
      std::lock_guard lock(mutex);
      for (const TaskId& id : done) {
        auto it = held.find(id);
        if (it == held.end()) continue;
        std::uint64_t seq = it->second.batch;
        told |= forget(it);
        settle(seq);
      }
    }
    fetch_changed.notify_one();  // fewer unstored tasks
    if (told) wake.signal();
  }

  // ---- cancels ----
  void cancel_loop() {
    while (!stopped()) {
      std::vector<TaskId> ids;
      try {
        ids = cancel_feed.next(milliseconds(200));
      } catch (const std::exception& e) {
        log::debug("NATS: following cancels: {}", e.what());
        std::this_thread::sleep_for(milliseconds(200));
      }
      if (ids.empty()) continue;
      bool told = false;
      {
        std::lock_guard lock(mutex);
        for (const TaskId& id : ids) {
          cancelled.insert(id);
          auto it = held.find(id);
          if (it != held.end() && it->second.supervised) {
            events.cancels.push_back(id);
            told = true;
          }
        }
      }
      if (told) wake.signal();
    }
  }

  // ---- modules and registry entries ----
  void fetch_module(const ModuleHash& hash) {
    proto::ModuleReply reply;
    reply.hash = hash;
    try {
      reply.bytes = modules.get(hash);
      if (!reply.bytes)
        reply.error = "module " + hash.hex() + " is not in the NATS object store " +
                      config.names.module_bucket();
      else reply.signatures = modules.signatures(hash);
    } catch (const std::exception& e) {
      reply.error = "module " + hash.hex() + " could not be fetched: " + e.what();
    }
    {
      std::lock_guard lock(mutex);
      events.modules.push_back(std::move(reply));
    }
    wake.signal();
  }

  void beat(std::uint32_t busy, const std::vector<TaskId>& started) {
    std::vector<ServiceEntry> entries;
    WorkerEntry me;
    {
      std::lock_guard lock(mutex);
      me = entry(busy);
      for (const TaskId& id : started) {
        auto it = held.find(id);
        if (it == held.end()) continue;  // ended meanwhile
        announced_services.insert(id);
        entries.push_back({id.str(), identity.id, it->second.task.function,
                           it->second.task.module.hex(), it->second.becomes});
      }
    }
    workers.announce(me);
    for (const ServiceEntry& e : entries) services.announce(e);
  }

  EngineConfig config;
  WorkerIdentity identity;
  std::string note;  // set_note() (under `mutex`)
  Connection connection;
  JetStream js;
  std::vector<std::unique_ptr<Feed>> feeds;  // its own platform first
  ResultStream results;
  CancelChannel cancels;
  CancelFeed cancel_feed;
  ModuleStore modules;
  WorkerRegistry workers;
  ServiceRegistry services;
  AsyncPublisher publisher;  // results and requeues
  std::size_t max_payload = 1 << 20;

  WakeFd wake;
  mutable std::mutex mutex;
  // One per waiting thread, so that a change wakes only the thread it
  // concerns: a thread woken for nothing takes a CPU from the task's path.
  std::condition_variable fetch_changed;    // credit, running, unstored tasks
  std::condition_variable results_changed;  // outbox, in-flight window, retries
  bool stopping = false;
  std::uint32_t credit = 0;
  std::size_t supervised = 0;   // tasks given to the supervisor, not yet stored
  std::size_t running = 0;      // of those, the ones whose result has not come back
  std::uint64_t published = 0;  // numbers the result path's message ids
  std::size_t in_flight = 0;    // result path messages the stream has not answered
  std::vector<std::shared_ptr<StoreMessage>> retry_stores;  // refused, to publish again
  Clock::time_point hold_until{};                           // no result publishing before
  std::map<std::uint64_t, HeldBatch> batches;
  std::unordered_map<TaskId, HeldTask, proto::TaskIdHash> held;
  std::unordered_set<TaskId, proto::TaskIdHash> cancelled;
  // Identities whose tasks came here, interned: few (one per boss user).
  std::set<std::string> owners;
  std::set<TaskId> announced_services;
  std::deque<proto::Result> outbox;
  WorkerEngineEvents events;
  WorkerTally tally;  // for the registry entry

  ChoreThread chores;                      // module fetches and registry puts
  std::vector<std::thread> fetch_threads;  // one per feed
  std::thread result_thread, cancel_thread;
};

WorkerEngine::WorkerEngine(EngineConfig config, WorkerIdentity identity)
    : impl_(std::make_unique<Impl>(std::move(config), std::move(identity))) {}

WorkerEngine::~WorkerEngine() = default;

int WorkerEngine::wake_fd() const { return impl_->wake.fd(); }

WorkerEngineEvents WorkerEngine::take() {
  impl_->wake.drain();
  WorkerEngineEvents out;
  std::lock_guard lock(impl_->mutex);
  std::swap(out, impl_->events);
  return out;
}

void WorkerEngine::set_credit(std::uint32_t capacity) {
  {
    std::lock_guard lock(impl_->mutex);
    impl_->credit = capacity;
  }
  impl_->fetch_changed.notify_one();
}

void WorkerEngine::fetch_module(const ModuleHash& hash) {
  impl_->chores.post([impl = impl_.get(), hash] { impl->fetch_module(hash); });
}

void WorkerEngine::send_results(const std::vector<const proto::Result*>& results) {
  if (results.empty()) return;
  {
    std::lock_guard lock(impl_->mutex);
    for (const proto::Result* r : results) {
      impl_->outbox.push_back(*r);
      auto it = impl_->held.find(r->id);
      if (it != impl_->held.end() && it->second.supervised && !it->second.finished) {
        it->second.finished = true;
        --impl_->running;
      }
    }
  }
  // On this thread when the window allows: a result is on its way without
  // a hand-over to another thread (latency). Only then the threads that wait
  // for it are woken, so that they do not compete with it for a CPU.
  impl_->publish_results();
  impl_->fetch_changed.notify_one();  // room for the fetch thread
  bool left = false;
  {
    std::lock_guard lock(impl_->mutex);
    left = !impl_->outbox.empty();
  }
  if (left) impl_->results_changed.notify_one();
}

void WorkerEngine::heartbeat(std::uint32_t busy, const std::vector<proto::TaskId>& started) {
  impl_->chores.post([impl = impl_.get(), busy, started] { impl->beat(busy, started); });
}

void WorkerEngine::set_note(const std::string& note) {
  std::lock_guard lock(impl_->mutex);
  impl_->note = note;
}

std::uint32_t WorkerEngine::service_became(const proto::TaskId& id, const ModuleHash& module,
                                           const std::string& function) {
  ServiceEntry entry;
  {
    std::lock_guard lock(impl_->mutex);
    auto it = impl_->held.find(id);
    if (it == impl_->held.end()) return 0;  // ended meanwhile
    it->second.task.module = module;
    it->second.task.function = function;
    ++it->second.becomes;
    if (!impl_->announced_services.count(id)) return it->second.becomes;
    entry = {id.str(), impl_->identity.id, function, module.hex(), it->second.becomes};
  }
  // At once rather than at the next heartbeat: `uni status` right after
  // `uni become` shows the new code.
  impl_->chores.post([impl = impl_.get(), entry] { impl->services.announce(entry); });
  return entry.becomes;
}

std::size_t WorkerEngine::held() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->supervised;
}

Connection& WorkerEngine::connection() { return impl_->connection; }

}  // namespace uni::nats
