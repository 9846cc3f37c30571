// The boss's I/O thread and the hand-off to it (see client.hpp).
#include "client/client.hpp"

#include <sodium.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <random>

#include "common/identity.hpp"
#include "common/log.hpp"
#include "common/module_file.hpp"
#include "proto/batch.hpp"

namespace uni::detail {

namespace {

using Clock = std::chrono::steady_clock;
using proto::TaskId;

}  // namespace

class Client::Io final : private broker::BossEvents {
 public:
  Io(Client& owner, std::unique_ptr<broker::BossLink> link, const ConnectOptions& options)
      : owner_(owner),
        link_(std::move(link)),
        wake_fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)),
        on_notice_(options.on_notice) {
    if (!wake_fd_) throw Error("eventfd failed");
    if (!on_notice_)
      on_notice_ = [](const std::string& text) { std::fprintf(stderr, "uni: %s\n", text.c_str()); };
  }

  void open(std::chrono::milliseconds timeout) { info_ = link_->open(timeout); }

  void loop();
  void wake() {
    if (!wake_pending_.exchange(true)) {
      std::uint64_t one = 1;
      [[maybe_unused]] ssize_t n = ::write(wake_fd_.get(), &one, sizeof(one));
    }
  }
  void stop() {
    stop_ = true;
    wake_pending_ = false;
    wake();
  }
  const broker::BrokerInfo& info() const { return info_; }
  const broker::BrokerIdentity& identity() const { return link_->identity(); }
  const std::string& broker_name() const { return link_->name(); }

 private:
  // broker::BossEvents
  void on_results(std::vector<proto::Result>& results) override;
  void on_module_needed(const ModuleHash& hash) override;
  void on_services_started(const std::vector<TaskId>& ids) override;
  void on_reconnected(const broker::BrokerInfo& info) override;
  void on_disconnected(const std::string& why) override { log::debug("{}", why); }
  void on_tasks_lost(const std::vector<TaskId>& ids) override;
  void on_notice(const std::string& text) override { on_notice_(text); }
  void on_broker_leaving(const std::string& reason) override;
  void on_session_refused(const std::string& why) override;

  void take_work();
  void send_tasks(const std::vector<std::shared_ptr<TaskState>>& tasks);
  void resolve(const TaskId& id, proto::Result result);
  // Something waits for the broker: a task, or a status or cancel reply.
  bool waiting() const { return !pending_.empty() || link_->requests_pending(); }
  void check_silence(Clock::time_point now);
  // The broker in messages: "the " and its kind ("the manager").
  std::string the_broker() const { return "the " + link_->identity().kind; }

  Client& owner_;
  std::unique_ptr<broker::BossLink> link_;
  UniqueFd wake_fd_;
  std::atomic<bool> wake_pending_{false};
  std::atomic<bool> stop_{false};
  std::function<void(const std::string&)> on_notice_;
  broker::BrokerInfo info_;
  std::vector<broker::PollItem> poll_items_;

  std::unordered_map<TaskId, std::shared_ptr<TaskState>, proto::TaskIdHash> pending_;
  std::unordered_map<ModuleHash, std::shared_ptr<const ModuleInfo>> modules_;
  std::vector<TaskId> cancelled_;  // sent again after a reconnect until their results arrive
  std::vector<TaskId> acks_;
  // Tasks the broker answered "queue full": submitted again after a pause.
  std::vector<std::shared_ptr<TaskState>> retry_;
  Clock::time_point retry_at_{};
  Clock::time_point queue_full_noticed_{};
  // The broker's silence: whether the user was told.
  bool silence_noticed_ = false;
  // Why the manager will not let this boss go on, once it said so: every
  // task fails with it from then on.
  std::string refused_;
};

void Client::Io::loop() {
  Clock::time_point next_heartbeat = Clock::now();
  while (!stop_) {
    poll_items_.clear();
    poll_items_.push_back({nullptr, wake_fd_.get(), broker::kPollIn, 0});
    link_->add_poll_items(poll_items_);
    link_->poll(poll_items_, retry_.empty() ? info_.heartbeat : std::chrono::milliseconds(50));
    if (poll_items_[0].revents & broker::kPollIn) {
      std::uint64_t count;
      [[maybe_unused]] ssize_t n = ::read(wake_fd_.get(), &count, sizeof(count));
      wake_pending_ = false;
      take_work();
    }
    link_->process(&poll_items_[1], *this);
    if (!acks_.empty()) {
      link_->acknowledge(acks_);
      acks_.clear();
    }
    if (!retry_.empty() && Clock::now() >= retry_at_) {
      std::vector<std::shared_ptr<TaskState>> again;
      again.swap(retry_);
      send_tasks(again);
    }
    if (Clock::now() >= next_heartbeat) {
      link_->heartbeat();
      next_heartbeat = Clock::now() + info_.heartbeat;
    }
    check_silence(Clock::now());
  }
  link_->close("boss leaving");
}

// A broker that went away (killed, or the network) says nothing: the boss
// reconnects by itself, and whoever waits on it is told what it waits for
// instead of facing a silent hang. Heard from again: told that too.
void Client::Io::check_silence(Clock::time_point now) {
  const auto limit =
      std::max<std::chrono::milliseconds>(3 * info_.heartbeat, std::chrono::seconds(3));
  const Clock::time_point last_heard = link_->last_heard();
  if (silence_noticed_ && now - last_heard < limit) {
    silence_noticed_ = false;
    on_notice_(link_->name() + " answers again");
  } else if (!silence_noticed_ && now - last_heard >= limit && waiting()) {
    silence_noticed_ = true;
    auto silent_s = std::chrono::duration_cast<std::chrono::seconds>(now - last_heard).count();
    std::string why = link_->silence_reason();
    if (!why.empty()) why = " (" + why + ")";
    if (link_->identity().has_manager)
      on_notice_("no word from " + link_->name() + " for " + std::to_string(silent_s) + " s" + why +
                 "; waiting for it to come back (" + std::to_string(pending_.size()) +
                 " unfinished task(s) are submitted again when it does)");
    else  // a cluster that stores the tasks itself (NATS JetStream)
      on_notice_("no answer from " + link_->name() + " for " + std::to_string(silent_s) + " s" +
                 why +
                 "; waiting for it (it may be electing leaders, or lack a quorum of its "
                 "nodes); " +
                 std::to_string(pending_.size()) +
                 " unfinished task(s) wait, and any it lost are submitted again");
  }
}

void Client::Io::take_work() {
  std::vector<std::shared_ptr<TaskState>> tasks;
  std::vector<TaskId> cancels;
  std::vector<Request> requests;
  {
    std::lock_guard lock(owner_.mutex_);
    tasks.swap(owner_.to_submit_);
    cancels.swap(owner_.to_cancel_);
    requests.swap(owner_.requests_);
  }
  for (auto& t : tasks) {
    pending_[t->task.id] = t;
    modules_.try_emplace(t->module->hash, t->module);
  }
  if (!refused_.empty()) {
    on_session_refused(refused_);
    tasks.clear();
  }
  send_tasks(tasks);
  if (!cancels.empty()) {
    cancelled_.insert(cancelled_.end(), cancels.begin(), cancels.end());
    link_->cancel(cancels, nullptr);
  }
  for (Request& r : requests) {
    log::debug("asking {} for {}", link_->name(),
               r.type == proto::Type::kStatus        ? "its status"
               : r.type == proto::Type::kBecome      ? "a become"
               : r.type == proto::Type::kFetchResult ? "a kept result"
                                                     : "a cancel");
    if (r.type == proto::Type::kStatus) {
      link_->request_status(std::move(r.status));
    } else if (r.type == proto::Type::kFetchResult) {
      link_->request_kept_result(r.query, std::move(r.kept));
    } else if (r.type == proto::Type::kBecome) {
      modules_.try_emplace(r.module->hash, r.module);  // the broker may ask for it
      link_->request_become(r.become, std::move(r.became));
    } else {
      link_->cancel(r.ids, std::move(r.cancel));
    }
  }
}

void Client::Io::send_tasks(const std::vector<std::shared_ptr<TaskState>>& tasks) {
  if (tasks.empty()) return;
  // A task must fit in a message the broker accepts, with room to spare (it
  // travels on in TASKS, and its result back); one that does not fails here
  // with a clear error. The link cuts the rest into batches.
  const std::size_t budget = info_.max_message / 2;
  std::vector<broker::Submission> submissions;
  submissions.reserve(tasks.size());
  if (log::should_log(spdlog::level::debug))
    log::debug("submitting {} task(s), first {} {}() of module {}", tasks.size(),
               tasks.front()->task.id.str(), tasks.front()->task.function,
               tasks.front()->module->path);
  for (const auto& t : tasks) {
    // The manager refuses a whole SUBMIT at a record it cannot take: a task
    // it would refuse for its own sake is refused here, alone.
    if (t->task.function.empty()) {
      proto::Result r;
      r.status = proto::Status::kRejected;
      r.payload = "the task names no function (empty function name)";
      resolve(t->task.id, std::move(r));
      continue;
    }
    if (proto::encoded_size(t->task) > budget) {
      proto::Result r;
      r.status = proto::Status::kRejected;
      r.payload = "the task's arguments take " + std::to_string(t->task.args.size()) +
                  " bytes, more than " + the_broker() + " accepts in one message (" +
                  std::to_string(info_.max_message) + " bytes" +
                  (link_->identity().has_manager ? ", --max-message)" : ")");
      resolve(t->task.id, std::move(r));
      continue;
    }
    submissions.push_back({&t->task, t->module->platform});
  }
  if (!submissions.empty()) link_->submit(submissions);
}

void Client::Io::on_results(std::vector<proto::Result>& results) {
  for (proto::Result& r : results) {
    if (r.status == proto::Status::kQueueFull) {  // backpressure: try again shortly
      auto it = pending_.find(r.id);
      if (it == pending_.end()) continue;
      if (retry_.empty()) retry_at_ = Clock::now() + std::chrono::milliseconds(200);
      retry_.push_back(it->second);
      if (Clock::now() - queue_full_noticed_ > std::chrono::seconds(30)) {
        queue_full_noticed_ = Clock::now();
        on_notice_(the_broker() + " holds as many tasks as it may (" + r.payload +
                   "); tasks are submitted again as others finish");
      }
      continue;
    }
    if (log::should_log(spdlog::level::debug))
      log::debug("result of {}: {}{}{} (attempt {})", r.id.str(), proto::status_name(r.status),
                 r.worker.empty() ? "" : " from worker " + r.worker + " on " + r.host,
                 r.pid ? " pid " + std::to_string(r.pid) : "", r.attempt);
    acks_.push_back(r.id);
    resolve(r.id, std::move(r));
  }
}

void Client::Io::on_module_needed(const ModuleHash& hash) {
  auto it = modules_.find(hash);
  if (it == modules_.end()) {
    log::warn("{} asked for module {}, which this boss never sent", the_broker(),
              hash.hex().substr(0, 12));
    return;
  }
  const ModuleInfo& mod = *it->second;
  if (mod.bytes.size() + 256 > info_.max_message) {
    std::string why = "module " + mod.path + " (" + std::to_string(mod.bytes.size()) +
                      " bytes) is larger than " + the_broker() + " accepts in one message (" +
                      std::to_string(info_.max_message) + " bytes)";
    std::vector<TaskId> failed;
    for (auto& [id, t] : pending_)
      if (t->module->hash == hash) failed.push_back(id);
    for (const TaskId& id : failed) {
      proto::Result r;
      r.status = proto::Status::kRejected;
      r.payload = why;
      resolve(id, std::move(r));
    }
    // The broker holds them, waiting for the module: let it drop them.
    if (!failed.empty()) link_->cancel(failed, nullptr);
    return;
  }
  log::debug("{} asked for module {}: uploading {} ({} bytes)", the_broker(),
             hash.hex().substr(0, 12), mod.path, mod.bytes.size());
  link_->put_module(hash, mod.platform, mod.bytes, mod.signatures);
}

void Client::Io::on_services_started(const std::vector<TaskId>& ids) {
  for (const TaskId& id : ids) {
    auto it = pending_.find(id);
    if (it == pending_.end()) continue;
    {
      std::lock_guard lock(it->second->mutex);
      it->second->started = true;
    }
    it->second->finished.notify_all();
  }
}

void Client::Io::on_reconnected(const broker::BrokerInfo& info) {
  // Bring the broker up to date: every task without a result, in order, and
  // the cancels whose results have not come.
  info_ = info;
  std::vector<std::shared_ptr<TaskState>> all;
  all.reserve(pending_.size());
  for (auto& [id, t] : pending_) {
    t->task.flags |= proto::kFlagResubmitted;
    all.push_back(t);
  }
  std::sort(all.begin(), all.end(),
            [](const auto& a, const auto& b) { return a->task.id.seq < b->task.id.seq; });
  send_tasks(all);
  std::vector<TaskId> still;
  for (const TaskId& id : cancelled_)
    if (pending_.count(id)) still.push_back(id);
  cancelled_ = still;
  if (!cancelled_.empty()) link_->cancel(cancelled_, nullptr);
  if (!all.empty()) log::info("reconnected: resubmitted {} unfinished task(s)", all.size());
  else log::debug("reconnected to {} {}", link_->identity().kind, info.id);
}

void Client::Io::on_tasks_lost(const std::vector<TaskId>& ids) {
  // In order, flagged as after a reconnect: the broker gives them new
  // message ids, so that what it lost is not taken for a duplicate.
  std::vector<std::shared_ptr<TaskState>> again;
  for (const TaskId& id : ids) {
    auto it = pending_.find(id);
    if (it == pending_.end()) continue;  // its result came meanwhile
    it->second->task.flags |= proto::kFlagResubmitted;
    again.push_back(it->second);
  }
  std::sort(again.begin(), again.end(),
            [](const auto& a, const auto& b) { return a->task.id.seq < b->task.id.seq; });
  send_tasks(again);
  log::info("submitted again {} task(s) {} no longer held", again.size(), the_broker());
}

void Client::Io::on_broker_leaving(const std::string& reason) {
  if (waiting())
    on_notice_(link_->name() + " is going away (" + reason + "); waiting for it to come back");
  else log::info("{} is going away ({})", the_broker(), reason);
}

void Client::Io::on_session_refused(const std::string& why) {
  refused_ = why;
  std::vector<TaskId> all;
  for (const auto& [id, t] : pending_) all.push_back(id);
  for (const TaskId& id : all) {
    proto::Result r;
    r.status = proto::Status::kRefused;
    r.payload = why;
    resolve(id, std::move(r));
  }
}

void Client::Io::resolve(const TaskId& id, proto::Result result) {
  auto it = pending_.find(id);
  if (it == pending_.end()) return;  // a duplicate after a reconnect: already resolved
  std::shared_ptr<TaskState> state = std::move(it->second);
  pending_.erase(it);
  const bool ok = result.status == proto::Status::kOk;
  {
    std::lock_guard lock(state->mutex);
    state->result = std::move(result);
    state->result.id = id;
    state->task.args = std::string();  // no longer needed for resubmission
    state->done = true;
  }
  state->finished.notify_all();
  std::lock_guard lock(owner_.mutex_);
  if (!ok) ++owner_.failed_;
  if (owner_.outstanding_-- == owner_.max_outstanding_) owner_.window_open_.notify_all();
}

// ---- Client ----------------------------------------------------------------------------

ConnectError connect_error(const broker::ConnectFailure& e) {
  using R = broker::ConnectFailure::Reason;
  ConnectError::Reason reason = e.reason() == R::kAuthFailed    ? ConnectError::Reason::kAuthFailed
                                : e.reason() == R::kUnreachable ? ConnectError::Reason::kUnreachable
                                                                : ConnectError::Reason::kRefused;
  return ConnectError(reason, e.what());
}

std::uint64_t Client::new_session(std::optional<std::uint32_t> owner_tag) {
  if (sodium_init() < 0) throw Error("libsodium failed to initialise");
  return uni::new_session(owner_tag);
}

std::shared_ptr<Client> Client::start(std::unique_ptr<broker::BossLink> link, std::uint64_t session,
                                      std::string endpoint, const ConnectOptions& options) {
  std::shared_ptr<Client> client(new Client());
  client->endpoint_ = std::move(endpoint);
  client->session_ = session;
  client->max_outstanding_ = std::max<std::size_t>(options.max_outstanding, 1);
  client->submit_timeout_ = options.submit_timeout;
  client->io_ = std::make_unique<Io>(*client, std::move(link), options);
  log::debug("connecting to {}", client->endpoint_);
  try {
    client->io_->open(options.connect_timeout);
  } catch (const broker::ConnectFailure& e) {
    throw connect_error(e);
  }
  log::debug("connected to {} (broker {}, uni {}), session {:016x}", client->io_->broker_name(),
             client->io_->info().id, client->io_->info().version, client->session_);
  client->thread_ = std::thread([io = client->io_.get()] { io->loop(); });
  return client;
}

Client::~Client() {
  if (io_) io_->stop();
  if (thread_.joinable()) thread_.join();
}

void Client::wake() { io_->wake(); }

const broker::BrokerIdentity& Client::identity() const { return io_->identity(); }

std::shared_ptr<TaskState> Client::submit(std::shared_ptr<const ModuleInfo> module,
                                          std::string function, std::string args,
                                          const TaskOptions& options, std::uint8_t flags) {
  auto state = std::make_shared<TaskState>();
  proto::Task& t = state->task;
  t.module = module->hash;
  t.function = std::move(function);
  t.args = std::move(args);
  auto clamp_ms = [](std::chrono::milliseconds ms) {
    return static_cast<std::uint32_t>(std::clamp<std::int64_t>(ms.count(), 0, UINT32_MAX));
  };
  t.timeout_ms = clamp_ms(options.timeout);
  t.wait_ms = clamp_ms(options.wait);
  t.max_attempts = static_cast<std::uint8_t>(std::clamp(options.max_attempts, 1, 255));
  t.flags = flags;
  state->module = std::move(module);
  {
    std::unique_lock lock(mutex_);
    if (outstanding_ >= max_outstanding_) {
      auto open = [&] { return outstanding_ < max_outstanding_; };
      if (submit_timeout_.count() == 0) {
        window_open_.wait(lock, open);
      } else if (!window_open_.wait_for(lock, submit_timeout_, open)) {
        throw Error("cannot submit: " + std::to_string(outstanding_) +
                    " tasks are unfinished, the limit (ConnectOptions::max_outstanding), and none "
                    "finished within the submit timeout");
      }
    }
    t.id = {session_, next_seq_++};
    to_submit_.push_back(state);
    ++outstanding_;
  }
  wake();
  return state;
}

void Client::cancel_async(const proto::TaskId& id) {
  {
    std::lock_guard lock(mutex_);
    to_cancel_.push_back(id);
  }
  wake();
}

namespace {
// `broker`: its kind ("manager"), for the message.
template <class T>
T await_reply(std::future<T>& reply, std::chrono::milliseconds timeout, const char* what,
              const std::string& broker) {
  if (reply.wait_for(timeout) != std::future_status::ready)
    throw ConnectError(ConnectError::Reason::kUnreachable,
                       "the " + broker + " did not answer the " + what + " request within " +
                           std::to_string(timeout.count() / 1000.0).substr(0, 3) + " s");
  return reply.get();
}
}  // namespace

std::vector<proto::CancelOutcome> Client::cancel(const std::vector<proto::TaskId>& ids,
                                                 std::chrono::milliseconds timeout) {
  auto promise = std::make_shared<broker::CancelPromise>();
  auto reply = promise->get_future();
  {
    std::lock_guard lock(mutex_);
    requests_.push_back({proto::Type::kCancel, ids, nullptr, std::move(promise)});
  }
  wake();
  return await_reply(reply, timeout, "cancel", identity().kind);
}

proto::StatusReport Client::status(std::chrono::milliseconds timeout) {
  auto promise = std::make_shared<broker::StatusPromise>();
  auto reply = promise->get_future();
  {
    std::lock_guard lock(mutex_);
    requests_.push_back({proto::Type::kStatus, {}, std::move(promise), nullptr});
  }
  wake();
  return await_reply(reply, timeout, "status", identity().kind);
}

proto::BecomeReply Client::become(proto::BecomeRequest request,
                                  std::shared_ptr<const ModuleInfo> module,
                                  std::chrono::milliseconds wait) {
  auto promise = std::make_shared<broker::BecomePromise>();
  auto reply = promise->get_future();
  {
    std::lock_guard lock(mutex_);
    request.module = module->hash;
    request.request = next_become_++;
    requests_.push_back({proto::Type::kBecome,
                         {},
                         nullptr,
                         nullptr,
                         std::move(request),
                         std::move(module),
                         std::move(promise)});
  }
  wake();
  return await_reply(reply, wait, "become", identity().kind);
}

proto::KeptResultReply Client::kept_result(const proto::TaskId& id, std::chrono::milliseconds wait,
                                           std::chrono::milliseconds timeout) {
  auto promise = std::make_shared<broker::KeptResultPromise>();
  auto reply = promise->get_future();
  {
    std::lock_guard lock(mutex_);
    Request r{proto::Type::kFetchResult, {}, nullptr, nullptr};
    r.query.request = next_result_query_++;
    r.query.id = id;
    r.query.wait_ms =
        static_cast<std::uint32_t>(std::clamp<std::int64_t>(wait.count(), 0, UINT32_MAX));
    r.kept = std::move(promise);
    requests_.push_back(std::move(r));
  }
  wake();
  return await_reply(reply, wait + timeout, "result", identity().kind);
}

std::size_t Client::outstanding() const {
  std::lock_guard lock(mutex_);
  return outstanding_;
}

std::size_t Client::failed() const {
  std::lock_guard lock(mutex_);
  return failed_;
}

std::shared_ptr<const ModuleInfo> Client::module_file(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    throw ModuleError("cannot open module " + path + ": " + std::strerror(errno));
  std::int64_t mtime =
      static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  std::lock_guard lock(modules_mutex_);
  CachedModule& cached = modules_by_path_[path];
  if (cached.info && cached.mtime_ns == mtime &&
      cached.size == static_cast<std::uint64_t>(st.st_size))
    return cached.info;
  try {
    ModuleFile file = ModuleFile::load(path);
    auto info = std::make_shared<ModuleInfo>();
    info->path = path;
    info->bytes = std::move(file.bytes);
    info->hash = file.hash;
    info->platform = std::move(file.platform);
    info->signatures = std::move(file.signatures);
    cached = {mtime, static_cast<std::uint64_t>(st.st_size), info};
    return info;
  } catch (const ModuleFileError& e) {
    modules_by_path_.erase(path);
    throw ModuleError(e.what());
  }
}

}  // namespace uni::detail
