// BossBecomes: a thread per become request (see boss_becomes.hpp).
#include "nats/boss/boss_becomes.hpp"

#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>

#include "common/log.hpp"
#include "nats/client/jetstream.hpp"
#include "nats/store/become_channel.hpp"
#include "nats/store/module_store.hpp"
#include "nats/store/registry.hpp"

namespace uni::nats {

namespace {

using Clock = std::chrono::steady_clock;

proto::BecomeReply refused(const proto::BecomeRequest& r, std::string why) {
  return {r.request, r.service, false, std::move(why), 0, 0};
}

// The worker's platform from its registry entry; nullopt if it has none (it
// left, or missed its heartbeats).
std::optional<std::string> worker_platform(WorkerRegistry& workers, const std::string& id) {
  std::optional<std::string> value = workers.bucket().get(id);
  if (!value) return std::nullopt;
  try {
    return nlohmann::json::parse(*value).value("platform", "");
  } catch (const nlohmann::json::exception&) {
    return std::string();
  }
}

}  // namespace

BossBecomes::BossBecomes(Connection& connection, EngineConfig config)
    : connection_(connection), config_(std::move(config)) {}

BossBecomes::~BossBecomes() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  for (Worker& w : threads_) w.thread.join();
}

void BossBecomes::request(const proto::BecomeRequest& request, Answer answer) {
  std::lock_guard lock(mutex_);
  reap_finished();
  ++running_;
  Worker& w = threads_.emplace_back();
  w.thread = std::thread([this, request, answer = std::move(answer), &w] {
    run(request, answer);
    std::lock_guard done(mutex_);
    --running_;
    w.done = true;
  });
}

void BossBecomes::reap_finished() {
  for (auto it = threads_.begin(); it != threads_.end();) {
    if (!it->done) {
      ++it;
      continue;
    }
    it->thread.join();
    it = threads_.erase(it);
  }
}

bool BossBecomes::pending() const {
  std::lock_guard lock(mutex_);
  return running_ > 0;
}

std::vector<ModuleHash> BossBecomes::take_modules_needed() {
  wake_.drain();
  std::vector<ModuleHash> out;
  std::lock_guard lock(mutex_);
  out.swap(needed_);
  return out;
}

bool BossBecomes::module_arrived(const ModuleHash& hash, const std::string& platform,
                                 std::string bytes, const std::vector<std::string>& signatures) {
  {
    std::lock_guard lock(mutex_);
    if (!awaited_.count(hash)) return false;
    uploads_[hash] = Upload{platform, std::move(bytes), signatures};
  }
  changed_.notify_all();
  return true;
}

void BossBecomes::run(proto::BecomeRequest request, const Answer& answer) {
  proto::BecomeReply reply;
  try {
    reply = become(request);
  } catch (const std::exception& e) {
    reply = refused(request, e.what());
  }
  if (reply.ok)
    log::info("service {} became {}() of module {} (become #{})", request.service.str(),
              request.function, request.module.hex().substr(0, 12), reply.becomes);
  else log::info("become of service {} failed: {}", request.service.str(), reply.text);
  answer(std::move(reply));
}

proto::BecomeReply BossBecomes::become(const proto::BecomeRequest& request) {
  // From here, so that the boss's own wait for the answer (2 * limit + 30 s,
  // client/become.cpp) outlasts the lookups, the upload and the request.
  const auto limit = std::chrono::milliseconds(
      request.timeout_ms == 0 ? proto::kDefaultBecomeTimeoutMs : request.timeout_ms);
  const Clock::time_point deadline = Clock::now() + 2 * limit + kAnswerMargin;
  JetStream js(connection_);
  const std::string name = "service " + request.service.str();
  ServiceRegistry services =
      ServiceRegistry::open(js, config_.names, {.replicas = config_.replicas});
  std::optional<ServiceEntry> service = services.find(request.service.str());
  if (!service)
    return refused(request, "no " + name + " is running (uni status lists the services)");

  WorkerRegistry workers = WorkerRegistry::open(js, config_.names, {.replicas = config_.replicas});
  const std::string& worker = service->worker;
  std::optional<std::string> worker_runs = worker_platform(workers, worker);
  if (!worker_runs)
    return refused(request, "the " + name + "'s worker " + worker +
                                " has left the cluster (its service entry is about to expire)");

  const std::string module_runs = module_platform(request.module);
  if (!module_runs.empty() && !worker_runs->empty() && module_runs != *worker_runs)
    return refused(request, "the module is built for " + module_runs + ", the " + name +
                                "'s worker " + worker + " runs " + *worker_runs);

  Clock::time_point next_look = Clock::now() + std::chrono::seconds(2);
  auto give_up = [&]() -> std::optional<std::string> {
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return "the boss closed before the service's worker answered";
    }
    if (Clock::now() < next_look) return std::nullopt;
    next_look = Clock::now() + std::chrono::seconds(2);
    try {
      if (!worker_platform(workers, worker))
        return "the " + name + "'s worker " + worker +
               " left the cluster during the become (it stopped or died; uni status shows "
               "whether the service runs again elsewhere)";
    } catch (const std::exception& e) {
      log::debug("NATS: looking for worker {}: {}", worker, e.what());  // asked again later
    }
    return std::nullopt;
  };
  return ask_become(connection_, config_.names, worker, request, deadline, give_up);
}

std::string BossBecomes::module_platform(const ModuleHash& hash) {
  JetStream js(connection_);
  ModuleStore store = ModuleStore::open(js, config_.names, {.replicas = config_.replicas});
  if (std::optional<std::string> platform = store.platform(hash)) return *platform;

  // Not stored yet: the boss uploads it, as for the tasks of a submit.
  const std::string short_hash = hash.hex().substr(0, 12);
  std::unique_lock lock(mutex_);
  if (awaited_[hash]++ == 0) needed_.push_back(hash);
  wake_.signal();
  const bool came =
      changed_.wait_for(lock, kModuleWait, [&] { return stopping_ || uploads_.count(hash) > 0; });
  const bool closing = stopping_;
  std::optional<Upload> upload;
  if (came && !closing) upload = uploads_.at(hash);
  if (--awaited_[hash] == 0) {
    awaited_.erase(hash);
    uploads_.erase(hash);
  }
  lock.unlock();
  if (closing)
    throw std::runtime_error("the boss closed before module " + short_hash + " was stored");
  if (!upload)
    throw std::runtime_error("the new module " + short_hash + " never arrived from the boss");
  try {
    store.put(hash, upload->platform, upload->bytes, upload->signatures);
  } catch (const std::exception& e) {
    throw std::runtime_error("storing module " + short_hash + " in " +
                             config_.names.module_bucket() + ": " + e.what());
  }
  return upload->platform;
}

}  // namespace uni::nats
