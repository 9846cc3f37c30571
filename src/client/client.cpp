// The boss's I/O thread and the hand-off to it (see client.hpp).
#include "client/client.hpp"

#include <sodium.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <random>

#include "common/keys.hpp"
#include "common/log.hpp"
#include "common/module_file.hpp"
#include "proto/peer_connection.hpp"

namespace uni::detail {

namespace {

using Clock = std::chrono::steady_clock;
using proto::TaskId;

std::uint64_t random_session() {
  std::uint64_t v = 0;
  randombytes_buf(&v, sizeof(v));
  return v;
}

std::string routing_id(std::uint64_t session) {
  std::string rid = "b";
  rid.append(reinterpret_cast<const char*>(&session), sizeof(session));
  return rid;
}

}  // namespace

class Client::Io {
 public:
  Io(Client& owner, const CurveKeys& keys, const ConnectOptions& options)
      : owner_(owner),
        connection_(context_, keys, owner.endpoint_, routing_id(owner.session_)),
        wake_fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)),
        on_notice_(options.on_notice) {
    if (!wake_fd_) throw Error("eventfd failed");
    if (!on_notice_)
      on_notice_ = [](const std::string& text) { std::fprintf(stderr, "uni: %s\n", text.c_str()); };
  }

  void open(std::chrono::milliseconds timeout) { welcome_ = connection_.open(hello(), timeout); }

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
  std::uint64_t max_message() const { return welcome_.max_message; }
  const proto::Welcome& welcome() const { return welcome_; }

 private:
  void say_hello() {
    connection_.send(hello());
    connection_.hello_sent();
  }

  std::string hello() const {
    proto::Hello h;
    h.role = "boss";
    h.session = owner_.session_;
    return proto::encode_hello(h);
  }
  void take_work();
  void send_tasks(const std::vector<std::shared_ptr<TaskState>>& tasks);
  void on_message(const proto::Message& m);
  // Replies come back in order; a null waiter marks a reply nobody awaits.
  void send_cancel(const std::vector<TaskId>& ids, std::shared_ptr<CancelPromise> waiter) {
    if (connection_.send(proto::encode_cancel(ids))) cancel_waiters_.push_back(std::move(waiter));
    else if (waiter)
      waiter->set_exception(std::make_exception_ptr(Error("not connected to the manager")));
  }
  void resolve(const TaskId& id, proto::Result result);
  void fail_request(const std::string& why);
  // Something waits for the manager: a task, or a status or cancel reply.
  bool waiting() const {
    return !pending_.empty() || !status_waiters_.empty() || !cancel_waiters_.empty() ||
           !become_waiters_.empty();
  }
  void check_silence(Clock::time_point now);

  Client& owner_;
  zmq::context_t context_{1};
  proto::PeerConnection connection_;
  UniqueFd wake_fd_;
  std::atomic<bool> wake_pending_{false};
  std::atomic<bool> stop_{false};
  std::function<void(const std::string&)> on_notice_;
  proto::Welcome welcome_;

  std::unordered_map<TaskId, std::shared_ptr<TaskState>, proto::TaskIdHash> pending_;
  std::unordered_map<ModuleHash, std::shared_ptr<const ModuleInfo>> modules_;
  std::vector<TaskId> cancelled_;  // sent again after a reconnect until their results arrive
  std::deque<std::shared_ptr<StatusPromise>> status_waiters_;
  std::deque<std::shared_ptr<CancelPromise>> cancel_waiters_;
  // BECOME requests by their id; answered in any order.
  std::unordered_map<std::uint64_t, std::shared_ptr<BecomePromise>> become_waiters_;
  std::vector<TaskId> acks_;
  // Tasks the manager answered "queue full": submitted again after a pause.
  std::vector<std::shared_ptr<TaskState>> retry_;
  Clock::time_point retry_at_{};
  Clock::time_point queue_full_noticed_{};
  // The manager's silence: what was last heard, and whether the user was told.
  Clock::time_point last_heard_ = Clock::now();
  bool silence_noticed_ = false;
};

void Client::Io::loop() {
  Clock::time_point next_heartbeat = Clock::now();
  std::chrono::milliseconds heartbeat(welcome_.heartbeat_ms ? welcome_.heartbeat_ms : 1000);
  while (!stop_) {
    zmq::pollitem_t items[] = {{connection_.socket().handle(), 0, ZMQ_POLLIN, 0},
                               {connection_.monitor_socket().handle(), 0, ZMQ_POLLIN, 0},
                               {nullptr, wake_fd_.get(), ZMQ_POLLIN, 0}};
    proto::poll(items, 3, retry_.empty() ? heartbeat : std::chrono::milliseconds(50));
    if ((items[1].revents & ZMQ_POLLIN) && connection_.reconnected()) say_hello();
    if (items[2].revents & ZMQ_POLLIN) {
      std::uint64_t count;
      [[maybe_unused]] ssize_t n = ::read(wake_fd_.get(), &count, sizeof(count));
      wake_pending_ = false;
      take_work();
    }
    if (items[0].revents & ZMQ_POLLIN) {
      last_heard_ = Clock::now();
      for (int i = 0; i < 1024; ++i) {
        zmq::message_t frame;
        if (!connection_.socket().recv(frame, zmq::recv_flags::dontwait)) break;
        try {
          on_message(proto::Message::parse(static_cast<const char*>(frame.data()), frame.size()));
        } catch (const proto::DecodeError& e) {
          log::error("malformed message from the manager: {}", e.what());
        }
      }
    }
    if (!acks_.empty()) {
      connection_.send(proto::encode_ack(acks_));
      acks_.clear();
    }
    if (!retry_.empty() && Clock::now() >= retry_at_) {
      std::vector<std::shared_ptr<TaskState>> again;
      again.swap(retry_);
      send_tasks(again);
    }
    if (Clock::now() >= next_heartbeat) {
      connection_.send(proto::encode_heartbeat());
      next_heartbeat = Clock::now() + heartbeat;
    }
    check_silence(Clock::now());
  }
  connection_.send(proto::encode_bye("boss leaving"));
  fail_request("the connection is closing");
}

// A manager that went away (killed, or the network) says nothing: the boss
// reconnects by itself, and whoever waits on it is told what it waits for
// instead of facing a silent hang. Heard from again: told that too.
void Client::Io::check_silence(Clock::time_point now) {
  const auto heartbeat =
      std::chrono::milliseconds(welcome_.heartbeat_ms ? welcome_.heartbeat_ms : 1000);
  const auto limit = std::max<std::chrono::milliseconds>(3 * heartbeat, std::chrono::seconds(3));
  if (silence_noticed_ && now - last_heard_ < limit) {
    silence_noticed_ = false;
    on_notice_("the manager at " + owner_.endpoint_ + " answers again");
  } else if (!silence_noticed_ && now - last_heard_ >= limit && waiting()) {
    silence_noticed_ = true;
    auto silent_s = std::chrono::duration_cast<std::chrono::seconds>(now - last_heard_).count();
    on_notice_("no word from the manager at " + owner_.endpoint_ + " for " +
               std::to_string(silent_s) + " s; waiting for it to come back (" +
               std::to_string(pending_.size()) +
               " unfinished task(s) are submitted again when it does)");
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
  send_tasks(tasks);
  if (!cancels.empty()) {
    cancelled_.insert(cancelled_.end(), cancels.begin(), cancels.end());
    send_cancel(cancels, nullptr);
  }
  for (Request& r : requests) {
    log::debug("asking the manager for {}", r.type == proto::Type::kStatus   ? "its status"
                                            : r.type == proto::Type::kBecome ? "a become"
                                                                             : "a cancel");
    if (r.type == proto::Type::kStatus) {
      if (connection_.send(proto::encode_status_request())) status_waiters_.push_back(r.status);
      else r.status->set_exception(std::make_exception_ptr(Error("not connected to the manager")));
    } else if (r.type == proto::Type::kBecome) {
      modules_.try_emplace(r.module->hash, r.module);  // the manager may ask for it
      if (connection_.send(proto::encode_become(r.become)))
        become_waiters_[r.become.request] = r.became;
      else r.became->set_exception(std::make_exception_ptr(Error("not connected to the manager")));
    } else {
      send_cancel(r.ids, r.cancel);
    }
  }
}

void Client::Io::send_tasks(const std::vector<std::shared_ptr<TaskState>>& tasks) {
  // Batches stay well under the manager's message limit; a single task too
  // large for any message fails here with a clear error.
  const std::size_t budget = welcome_.max_message / 2;
  std::vector<const proto::Task*> batch;
  std::size_t bytes = 0;
  auto send_batch = [&] {
    if (!batch.empty())
      connection_.send(proto::encode_submit(batch));  // unsent: resubmitted after HELLO
    batch.clear();
    bytes = 0;
  };
  if (!tasks.empty() && spdlog::should_log(spdlog::level::debug))
    log::debug("submitting {} task(s), first {} {}() of module {}", tasks.size(),
               tasks.front()->task.id.str(), tasks.front()->task.function,
               tasks.front()->module->path);
  for (const auto& t : tasks) {
    std::size_t size = t->task.args.size() + t->task.function.size() + 96;
    if (size > budget) {
      proto::Result r;
      r.status = proto::Status::kRejected;
      r.payload = "the task's arguments take " + std::to_string(t->task.args.size()) +
                  " bytes, more than the manager accepts in one message (" +
                  std::to_string(welcome_.max_message) + " bytes, --max-message)";
      resolve(t->task.id, std::move(r));
      continue;
    }
    if (bytes + size > proto::kBatchBytes) send_batch();
    batch.push_back(&t->task);
    bytes += size;
  }
  send_batch();
}

void Client::Io::on_message(const proto::Message& m) {
  using proto::Type;
  switch (m.type()) {
    case Type::kResult:
      for (proto::Result& r : m.results()) {
        if (r.status == proto::Status::kQueueFull) {  // backpressure: try again shortly
          auto it = pending_.find(r.id);
          if (it == pending_.end()) continue;
          if (retry_.empty()) retry_at_ = Clock::now() + std::chrono::milliseconds(200);
          retry_.push_back(it->second);
          if (Clock::now() - queue_full_noticed_ > std::chrono::seconds(30)) {
            queue_full_noticed_ = Clock::now();
            on_notice_("the manager holds as many tasks as it may (" + r.payload +
                       "); tasks are submitted again as others finish");
          }
          continue;
        }
        if (spdlog::should_log(spdlog::level::debug))
          log::debug("result of {}: {}{}{} (attempt {})", r.id.str(), proto::status_name(r.status),
                     r.worker.empty() ? "" : " from worker " + r.worker + " on " + r.host,
                     r.pid ? " pid " + std::to_string(r.pid) : "", r.attempt);
        acks_.push_back(r.id);
        resolve(r.id, std::move(r));
      }
      return;
    case Type::kNeedModule: {
      ModuleHash hash = m.module_hash();
      auto it = modules_.find(hash);
      if (it == modules_.end()) {
        log::warn("the manager asked for module {}, which this boss never sent",
                  hash.hex().substr(0, 12));
        return;
      }
      const ModuleInfo& mod = *it->second;
      if (mod.bytes.size() + 256 > welcome_.max_message) {
        std::string why = "module " + mod.path + " (" + std::to_string(mod.bytes.size()) +
                          " bytes) is larger than the manager accepts in one message (" +
                          std::to_string(welcome_.max_message) + " bytes)";
        std::vector<TaskId> failed;
        for (auto& [id, t] : pending_)
          if (t->module->hash == hash) failed.push_back(id);
        for (const TaskId& id : failed) {
          proto::Result r;
          r.status = proto::Status::kRejected;
          r.payload = why;
          resolve(id, std::move(r));
        }
        // The manager holds them, waiting for the module: let it drop them.
        if (!failed.empty()) send_cancel(failed, nullptr);
        return;
      }
      log::debug("the manager asked for module {}: uploading {} ({} bytes)",
                 hash.hex().substr(0, 12), mod.path, mod.bytes.size());
      connection_.send(proto::encode_put_module(hash, mod.platform, mod.bytes));
      return;
    }
    case Type::kWelcome: {
      // A HELLO after a reconnect was answered: bring the manager up to date.
      connection_.welcomed();
      welcome_ = m.welcome();
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
      if (!cancelled_.empty()) send_cancel(cancelled_, nullptr);
      if (!all.empty()) log::info("reconnected: resubmitted {} unfinished task(s)", all.size());
      else log::debug("reconnected to manager {}", welcome_.manager_id);
      return;
    }
    case Type::kNotice: on_notice_(m.text()); return;
    case Type::kStatusReply:
      if (!status_waiters_.empty()) {
        std::shared_ptr<StatusPromise> waiter = std::move(status_waiters_.front());
        status_waiters_.pop_front();
        try {
          waiter->set_value(m.status_report());
        } catch (const proto::DecodeError& e) {
          waiter->set_exception(std::make_exception_ptr(
              Error(std::string("the manager's status does not read: ") + e.what())));
        }
      }
      return;
    case Type::kCancelReply:
      if (!cancel_waiters_.empty()) {
        std::shared_ptr<CancelPromise> waiter = std::move(cancel_waiters_.front());
        cancel_waiters_.pop_front();
        if (!waiter) return;  // a cancel nobody waits on
        try {
          waiter->set_value(m.cancel_outcomes());
        } catch (const proto::DecodeError& e) {
          waiter->set_exception(std::make_exception_ptr(
              Error(std::string("the manager's cancel reply does not read: ") + e.what())));
        }
      }
      return;
    case Type::kBecomeReply: {
      proto::BecomeReply reply = proto::read_become_reply(m);
      auto it = become_waiters_.find(reply.request);
      if (it == become_waiters_.end()) return;
      it->second->set_value(std::move(reply));
      become_waiters_.erase(it);
      return;
    }
    case Type::kServiceStarted:
      for (const TaskId& id : m.task_ids()) {
        auto it = pending_.find(id);
        if (it == pending_.end()) continue;
        {
          std::lock_guard lock(it->second->mutex);
          it->second->started = true;
        }
        it->second->finished.notify_all();
      }
      return;
    case Type::kError: {
      proto::ErrorMessage e = m.error();
      if (e.code == "hello-required") {
        if (connection_.hello_needed()) say_hello();
        return;
      }
      log::error("the manager says: {}", e.text);
      return;
    }
    case Type::kBye:
      if (waiting())
        on_notice_("the manager at " + owner_.endpoint_ + " is going away (" + m.text() +
                   "); waiting for it to come back");
      else log::info("the manager is going away ({})", m.text());
      return;
    case Type::kHeartbeat: return;
    default: log::warn("unexpected {} from the manager", proto::type_name(m.type()));
  }
}

void Client::Io::resolve(const TaskId& id, proto::Result result) {
  auto it = pending_.find(id);
  if (it == pending_.end()) return;  // a duplicate after a reconnect: already resolved
  std::shared_ptr<TaskState> state = std::move(it->second);
  pending_.erase(it);
  {
    std::lock_guard lock(state->mutex);
    state->result = std::move(result);
    state->result.id = id;
    state->task.args = std::string();  // no longer needed for resubmission
    state->done = true;
  }
  state->finished.notify_all();
  std::lock_guard lock(owner_.mutex_);
  if (owner_.outstanding_-- == owner_.max_outstanding_) owner_.window_open_.notify_all();
}

void Client::Io::fail_request(const std::string& why) {
  for (auto& w : status_waiters_) w->set_exception(std::make_exception_ptr(Error(why)));
  for (auto& w : cancel_waiters_)
    if (w) w->set_exception(std::make_exception_ptr(Error(why)));
  for (auto& [id, w] : become_waiters_) w->set_exception(std::make_exception_ptr(Error(why)));
  become_waiters_.clear();
}

// ---- Client ----------------------------------------------------------------------------

std::shared_ptr<Client> Client::connect(const std::string& address, const ConnectOptions& options) {
  if (sodium_init() < 0) throw Error("libsodium failed to initialise");
  std::optional<std::string> authkey;
  try {
    authkey = find_authkey(options.authkey, options.authkey_file);
  } catch (const std::exception& e) {
    throw Error(e.what());  // an unreadable or empty key file: a local problem, not the cluster's
  }
  if (!authkey)
    throw ConnectError(ConnectError::Reason::kAuthFailed,
                       "no authkey: pass --authkey or --authkey-file, set UNI_AUTHKEY, or start a "
                       "manager without one so that it creates " +
                           default_authkey_path());
  CurveKeys keys = derive_curve_keys(*authkey);

  std::shared_ptr<Client> client(new Client());
  client->endpoint_ = proto::normalize_endpoint(address);
  client->session_ = random_session();
  client->max_outstanding_ = std::max<std::size_t>(options.max_outstanding, 1);
  client->submit_timeout_ = options.submit_timeout;
  client->io_ = std::make_unique<Io>(*client, keys, options);
  log::debug("connecting to {}", client->endpoint_);
  try {
    client->io_->open(options.connect_timeout);
  } catch (const proto::ConnectFailure& e) {
    using R = proto::ConnectFailure::Reason;
    ConnectError::Reason reason = e.reason() == R::kAuthFailed ? ConnectError::Reason::kAuthFailed
                                  : e.reason() == R::kUnreachable
                                      ? ConnectError::Reason::kUnreachable
                                      : ConnectError::Reason::kRefused;
    throw ConnectError(reason, e.what());
  }
  log::debug("connected to the manager at {} (manager {}, uni {}), session {:016x}",
             client->endpoint_, client->io_->welcome().manager_id, client->io_->welcome().version,
             client->session_);
  client->thread_ = std::thread([io = client->io_.get()] { io->loop(); });
  return client;
}

Client::~Client() {
  if (io_) io_->stop();
  if (thread_.joinable()) thread_.join();
}

void Client::wake() { io_->wake(); }

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
template <class T>
T await_reply(std::future<T>& reply, std::chrono::milliseconds timeout, const char* what) {
  if (reply.wait_for(timeout) != std::future_status::ready)
    throw ConnectError(ConnectError::Reason::kUnreachable,
                       std::string("the manager did not answer the ") + what + " request within " +
                           std::to_string(timeout.count() / 1000.0).substr(0, 3) + " s");
  return reply.get();
}
}  // namespace

std::vector<proto::CancelOutcome> Client::cancel(const std::vector<proto::TaskId>& ids,
                                                 std::chrono::milliseconds timeout) {
  auto promise = std::make_shared<CancelPromise>();
  auto reply = promise->get_future();
  {
    std::lock_guard lock(mutex_);
    requests_.push_back({proto::Type::kCancel, ids, nullptr, promise});
  }
  wake();
  return await_reply(reply, timeout, "cancel");
}

proto::StatusReport Client::status(std::chrono::milliseconds timeout) {
  auto promise = std::make_shared<StatusPromise>();
  auto reply = promise->get_future();
  {
    std::lock_guard lock(mutex_);
    requests_.push_back({proto::Type::kStatus, {}, promise, nullptr});
  }
  wake();
  return await_reply(reply, timeout, "status");
}

proto::BecomeReply Client::become(proto::BecomeRequest request,
                                  std::shared_ptr<const ModuleInfo> module,
                                  std::chrono::milliseconds wait) {
  auto promise = std::make_shared<BecomePromise>();
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
                         promise});
  }
  wake();
  return await_reply(reply, wait, "become");
}

std::size_t Client::outstanding() const {
  std::lock_guard lock(mutex_);
  return outstanding_;
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
    cached = {mtime, static_cast<std::uint64_t>(st.st_size), info};
    return info;
  } catch (const ModuleFileError& e) {
    modules_by_path_.erase(path);
    throw ModuleError(e.what());
  }
}

}  // namespace uni::detail
