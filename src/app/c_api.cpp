// The C ABI of include/uni/c_api.h over the boss library's client: the
// client's hooks (client/client.hpp) queue results and service events as
// they come, and uni_c_events hands them over in batches, packed as msgpack.
#include "uni/c_api.h"

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <unordered_map>

#include "app/boss_connect.hpp"
#include "common/module_file.hpp"
#include "proto/status.hpp"

struct uni_c_cluster {
  std::shared_ptr<uni::detail::Client> client;

  std::mutex events_mutex;
  std::condition_variable events_ready;
  msgpack::sbuffer events;  // the packed items, after a 5-byte array header slot
  std::size_t event_count = 0;
  bool closing = false;
  int in_events = 0;  // threads inside uni_c_events: uni_c_close waits for them to leave

  std::mutex submit_mutex;  // a batch's seqs are consecutive
  std::mutex modules_mutex;
  std::unordered_map<uni::ModuleHash, std::shared_ptr<const uni::detail::ModuleInfo>> modules;
};

namespace {

using uni::detail::TaskState;

void write_error(char* error, std::size_t size, const std::string& text) {
  if (!error || size == 0) return;
  std::size_t n = std::min(size - 1, text.size());
  std::memcpy(error, text.data(), n);
  error[n] = '\0';
}

void add_event(uni_c_cluster& c, int kind, const TaskState& state) {
  {
    std::lock_guard lock(c.events_mutex);
    msgpack::packer<msgpack::sbuffer> p(c.events);
    p.pack_array(7);
    p.pack_int(kind);
    p.pack_uint64(state.task.id.seq);
    if (kind == 0) {
      const uni::proto::Result& r = state.result;
      p.pack_uint8(static_cast<std::uint8_t>(r.status));
      p.pack_bin(static_cast<std::uint32_t>(r.payload.size()));
      p.pack_bin_body(r.payload.data(), static_cast<std::uint32_t>(r.payload.size()));
      p.pack(r.worker);
      p.pack(r.host);
      p.pack_uint32(r.pid);
    } else {
      for (int i = 0; i < 5; ++i) p.pack_nil();
    }
    ++c.event_count;
  }
  c.events_ready.notify_one();
}

}  // namespace

extern "C" {

uni_c_cluster* uni_c_connect(const char* address, const char* authkey, const char* authkey_file,
                             int connect_timeout_ms, std::size_t max_outstanding, int* reason,
                             char* error, std::size_t error_size) {
  auto cluster = std::make_unique<uni_c_cluster>();
  uni::ConnectOptions options;
  if (authkey) options.authkey = authkey;
  if (authkey_file) options.authkey_file = authkey_file;
  options.connect_timeout = std::chrono::milliseconds(std::max(1, connect_timeout_ms));
  if (max_outstanding > 0) options.max_outstanding = max_outstanding;
  options.on_notice = [](const std::string& text) {
    std::fprintf(stderr, "uni: %s\n", text.c_str());
  };
  uni::detail::TaskHooks hooks;
  uni_c_cluster* c = cluster.get();
  hooks.on_done = [c](const TaskState& state) { add_event(*c, 0, state); };
  hooks.on_started = [c](const TaskState& state) { add_event(*c, 1, state); };
  try {
    cluster->client = uni::detail::Client::start(
        uni::app::boss_link(address ? address : "", options), options, std::move(hooks));
  } catch (const uni::ConnectError& e) {
    if (reason)
      *reason = e.reason() == uni::ConnectError::Reason::kUnreachable  ? UNI_C_UNREACHABLE
                : e.reason() == uni::ConnectError::Reason::kAuthFailed ? UNI_C_AUTH_FAILED
                                                                       : UNI_C_REFUSED;
    write_error(error, error_size, e.what());
    return nullptr;
  } catch (const std::exception& e) {
    if (reason) *reason = UNI_C_LOCAL_ERROR;
    write_error(error, error_size, e.what());
    return nullptr;
  }
  return cluster.release();
}

void uni_c_interrupt(uni_c_cluster* cluster) {
  {
    std::lock_guard lock(cluster->events_mutex);
    cluster->closing = true;
  }
  cluster->events_ready.notify_all();
}

void uni_c_close(uni_c_cluster* cluster) {
  if (!cluster) return;
  uni_c_interrupt(cluster);
  cluster->client.reset();  // says goodbye and joins the I/O thread: no hook runs after
  {
    std::unique_lock lock(cluster->events_mutex);
    cluster->events_ready.wait(lock, [&] { return cluster->in_events == 0; });
  }
  delete cluster;
}

uint64_t uni_c_session(const uni_c_cluster* cluster) { return cluster->client->session(); }

int uni_c_module(uni_c_cluster* cluster, const char* bytes, std::size_t size, const char* name,
                 unsigned char* hash_out, char* error, std::size_t error_size) {
  try {
    auto info = std::make_shared<uni::detail::ModuleInfo>();
    info->path = name ? name : "module";
    info->bytes.assign(bytes, size);
    info->hash = uni::ModuleHash::of(info->bytes);
    info->platform = uni::check_module_image(info->bytes, info->path);
    std::memcpy(hash_out, info->hash.bytes.data(), info->hash.bytes.size());
    std::lock_guard lock(cluster->modules_mutex);
    cluster->modules.try_emplace(info->hash, std::move(info));
    return 0;
  } catch (const std::exception& e) {
    write_error(error, error_size, e.what());
    return -1;
  }
}

int uni_c_submit(uni_c_cluster* cluster, const unsigned char* hash, const char* function,
                 const char* args, const uint64_t* offsets, const uint64_t* sizes,
                 std::size_t count, uint32_t timeout_ms, uint32_t wait_ms, uint8_t max_attempts,
                 uint8_t flags, uint64_t* first_seq, char* error, std::size_t error_size) {
  try {
    uni::ModuleHash key;
    std::memcpy(key.bytes.data(), hash, key.bytes.size());
    std::shared_ptr<const uni::detail::ModuleInfo> module;
    {
      std::lock_guard lock(cluster->modules_mutex);
      auto it = cluster->modules.find(key);
      if (it == cluster->modules.end())
        throw uni::Error("module " + key.hex().substr(0, 12) +
                         " was not handed over (uni_c_module)");
      module = it->second;
    }
    uni::TaskOptions options;
    options.timeout = std::chrono::milliseconds(timeout_ms);
    options.wait = std::chrono::milliseconds(wait_ms);
    options.max_attempts = max_attempts;
    std::lock_guard lock(cluster->submit_mutex);
    for (std::size_t i = 0; i < count; ++i) {
      std::shared_ptr<TaskState> state = cluster->client->submit(
          module, function, std::string(args + offsets[i], sizes[i]), options, flags);
      if (i == 0 && first_seq) *first_seq = state->task.id.seq;
    }
    return 0;
  } catch (const std::exception& e) {
    write_error(error, error_size, e.what());
    return -1;
  }
}

int uni_c_events(uni_c_cluster* cluster, int timeout_ms, char** events, std::size_t* size) {
  std::unique_lock lock(cluster->events_mutex);
  if (cluster->closing) return -1;
  ++cluster->in_events;
  cluster->events_ready.wait_for(lock, std::chrono::milliseconds(std::max(0, timeout_ms)),
                                 [&] { return cluster->event_count > 0 || cluster->closing; });
  --cluster->in_events;
  if (cluster->closing) {
    cluster->events_ready.notify_all();  // uni_c_close may wait for this thread to leave
    return -1;
  }
  if (cluster->event_count == 0) return 0;
  msgpack::sbuffer out(cluster->events.size() + 8);
  msgpack::packer<msgpack::sbuffer> p(out);
  p.pack_array(static_cast<std::uint32_t>(cluster->event_count));
  out.write(cluster->events.data(), cluster->events.size());
  int count = static_cast<int>(cluster->event_count);
  cluster->events.clear();
  cluster->event_count = 0;
  lock.unlock();
  *size = out.size();
  *events = out.release();
  return count;
}

void uni_c_cancel(uni_c_cluster* cluster, const uint64_t* seqs, std::size_t count) {
  for (std::size_t i = 0; i < count; ++i)
    cluster->client->cancel_async({cluster->client->session(), seqs[i]});
}

int uni_c_stop(uni_c_cluster* cluster, const char* id, int timeout_ms, char* outcome,
               std::size_t outcome_size, char* error, std::size_t error_size) {
  try {
    if (!uni::valid_task_id(id)) throw uni::Error(std::string("not a task id: ") + id);
    std::string text(id);
    std::size_t dash = text.find('-');
    uni::proto::TaskId task{std::stoull(text.substr(0, dash), nullptr, 16),
                            std::stoull(text.substr(dash + 1))};
    std::vector<uni::proto::CancelOutcome> outcomes =
        cluster->client->cancel({task}, std::chrono::milliseconds(timeout_ms));
    write_error(outcome, outcome_size,
                outcomes.empty() ? "unknown" : uni::proto::cancel_state_name(outcomes[0].state));
    return 0;
  } catch (const std::exception& e) {
    write_error(error, error_size, e.what());
    return -1;
  }
}

char* uni_c_status(uni_c_cluster* cluster, int timeout_ms, std::size_t* size, char* error,
                   std::size_t error_size) {
  try {
    std::string packed = uni::proto::pack_status_report(
        cluster->client->status(std::chrono::milliseconds(timeout_ms)));
    char* out = static_cast<char*>(std::malloc(packed.size()));
    if (!out) throw std::bad_alloc();
    std::memcpy(out, packed.data(), packed.size());
    *size = packed.size();
    return out;
  } catch (const std::exception& e) {
    write_error(error, error_size, e.what());
    return nullptr;
  }
}

void uni_c_free(char* data) { std::free(data); }

}  // extern "C"
