// Executor processes, supervisor side (see executor_pool.hpp).
#include "worker/executor_pool.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>

#include "common/log.hpp"
#include "worker/executor.hpp"

#ifndef MSGPACK_NO_BOOST
#define MSGPACK_NO_BOOST
#endif
#include <msgpack.hpp>

namespace uni::worker {

namespace {

using Clock = std::chrono::steady_clock;
constexpr int kItemsPerExecutor = 4;  // channel, stdout, stderr, pidfd

void set_nonblocking(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK); }

std::string run_frame(const RunRequest& r) {
  msgpack::sbuffer buffer(r.args.size() + r.module_path.size() + 64);
  msgpack::packer<msgpack::sbuffer> p(buffer);
  p.pack_array(5);
  p.pack_uint8(kRun);
  p.pack_uint64(r.tag);
  p.pack(r.module_path);
  p.pack(r.function);
  p.pack_bin(static_cast<std::uint32_t>(r.args.size()));
  p.pack_bin_body(r.args.data(), static_cast<std::uint32_t>(r.args.size()));
  std::string frame;
  append_frame(frame, std::string_view(buffer.data(), buffer.size()));
  return frame;
}

std::string unload_frame(const std::string& path) {
  msgpack::sbuffer buffer;
  msgpack::packer<msgpack::sbuffer> p(buffer);
  p.pack_array(2);
  p.pack_uint8(kUnload);
  p.pack(path);
  std::string frame;
  append_frame(frame, std::string_view(buffer.data(), buffer.size()));
  return frame;
}

// Executors of a sanitizer build must die of their signals like any other,
// so that crash handling is tested as it runs in production.
std::vector<std::string> executor_env() {
#if defined(__SANITIZE_ADDRESS__)
  const char* inherited = std::getenv("ASAN_OPTIONS");
  std::string options = inherited ? std::string(inherited) + ":" : "";
  return {"ASAN_OPTIONS=" + options +
          "handle_segv=0:handle_abort=0:handle_sigbus=0:handle_sigfpe=0:detect_leaks=0"};
#else
  return {};
#endif
}

}  // namespace

struct ExecutorPool::Executor {
  Process process;
  UniqueFd channel, out, err;
  FrameReader reader;
  std::string pending;       // bytes for the channel not yet written
  bool channel_open = false;
  std::optional<std::uint64_t> tag;
  std::string label;
  std::string out_partial, err_partial;
  Clock::time_point spawned{};
  Clock::time_point respawn_at{};
  int quick_deaths = 0;
};

ExecutorPool::ExecutorPool(ExecutorPoolOptions options) : options_(options) {
  for (unsigned i = 0; i < options_.slots; ++i) {
    executors_.push_back(std::make_unique<Executor>());
    spawn(*executors_.back());
  }
}

ExecutorPool::~ExecutorPool() = default;  // each Process kills and reaps its child

void ExecutorPool::spawn(Executor& e) {
  int sv[2], out[2], err[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0 || ::pipe2(out, O_CLOEXEC) != 0 ||
      ::pipe2(err, O_CLOEXEC) != 0)
    throw std::runtime_error(std::string("cannot create executor channels: ") + std::strerror(errno));
  UniqueFd child_channel(sv[1]), child_out(out[1]), child_err(err[1]);
  e.channel.reset(sv[0]);
  e.out.reset(out[0]);
  e.err.reset(err[0]);
  set_nonblocking(e.channel.get());
  set_nonblocking(e.out.get());
  set_nonblocking(e.err.get());

  SpawnOptions spawn;
  spawn.argv = {"/proc/self/exe", "executor", "--supervisor", std::to_string(::getpid()),
                "--mem-limit", std::to_string(options_.mem_limit)};
  spawn.fds = {{child_channel.get(), kExecutorChannelFd}, {child_out.get(), 1}, {child_err.get(), 2}};
  spawn.env = executor_env();
  spawn.stdin_null = true;
  // Its own process group: a Ctrl-C at the worker's terminal is the
  // supervisor's to handle (drain), not a crash of every running task.
  spawn.new_process_group = true;
  e.process = Process::spawn(spawn);
  e.reader = FrameReader();
  e.pending.clear();
  e.channel_open = true;
  e.tag.reset();
  e.label.clear();
  e.spawned = Clock::now();
  log::debug("executor {} started", e.process.pid());
}

std::size_t ExecutorPool::idle() const {
  std::size_t n = 0;
  for (const auto& e : executors_) n += e->process.running() && e->channel_open && !e->tag;
  return n;
}

void ExecutorPool::start(RunRequest request) {
  for (auto& e : executors_) {
    if (!e->process.running() || !e->channel_open || e->tag) continue;
    e->tag = request.tag;
    e->label = request.label;
    e->pending += run_frame(request);
    if (!write_some(e->channel.get(), e->pending)) e->channel_open = false;
    return;
  }
  throw std::logic_error("ExecutorPool::start with no idle executor");
}

bool ExecutorPool::kill(std::uint64_t tag) {
  for (auto& e : executors_)
    if (e->tag == tag) {
      e->process.signal(SIGKILL);
      return true;
    }
  return false;
}

void ExecutorPool::unload(const std::string& module_path) {
  for (auto& e : executors_) {
    if (!e->process.running() || !e->channel_open) continue;
    e->pending += unload_frame(module_path);
    if (!write_some(e->channel.get(), e->pending)) e->channel_open = false;
  }
}

void ExecutorPool::add_poll_items(std::vector<zmq::pollitem_t>& items) {
  for (auto& e : executors_) {
    bool live = e->process.running();
    short channel_events = live && e->channel_open ? ZMQ_POLLIN : 0;
    if (live && e->channel_open && !e->pending.empty()) channel_events |= ZMQ_POLLOUT;
    items.push_back({nullptr, e->channel.get(), channel_events, 0});
    items.push_back({nullptr, e->out.get(), static_cast<short>(live ? ZMQ_POLLIN : 0), 0});
    items.push_back({nullptr, e->err.get(), static_cast<short>(live ? ZMQ_POLLIN : 0), 0});
    items.push_back({nullptr, e->process.pidfd(), static_cast<short>(live ? ZMQ_POLLIN : 0), 0});
  }
}

void ExecutorPool::relay(Executor& e, int fd, std::string& partial, FILE* to, bool final) {
  char chunk[16384];
  for (;;) {
    ssize_t n = ::read(fd, chunk, sizeof(chunk));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    partial.append(chunk, static_cast<std::size_t>(n));
  }
  std::string label = e.label.empty() ? "executor " + std::to_string(e.process.pid()) : e.label;
  std::size_t start = 0;
  for (std::size_t nl; (nl = partial.find('\n', start)) != std::string::npos; start = nl + 1)
    std::fprintf(to, "[%s] %.*s\n", label.c_str(), static_cast<int>(nl - start), partial.data() + start);
  partial.erase(0, start);
  if (final && !partial.empty()) {
    std::fprintf(to, "[%s] %s\n", label.c_str(), partial.c_str());
    partial.clear();
  }
  std::fflush(to);
}

void ExecutorPool::reap(Executor& e, std::vector<Completion>& done) {
  relay(e, e.out.get(), e.out_partial, stdout, true);
  relay(e, e.err.get(), e.err_partial, stderr, true);
  ExitStatus status = e.process.wait();
  pid_t pid = e.process.pid();
  if (e.tag) {
    done.push_back(Completion{*e.tag, proto::Status::kCrashed, "", static_cast<std::uint32_t>(pid), status});
  } else {
    log::warn("executor {} {} while idle", pid, status.describe());
  }
  // An executor that keeps dying at once (a broken install, no memory) is
  // restarted at most once a second instead of in a tight loop.
  bool quick = Clock::now() - e.spawned < std::chrono::seconds(1);
  e.quick_deaths = quick ? e.quick_deaths + 1 : 0;
  e.respawn_at = Clock::now() + (e.quick_deaths > 2 ? std::chrono::seconds(1) : std::chrono::seconds(0));
  e.process = Process();
  e.tag.reset();
  e.label.clear();
  e.channel_open = false;
}

void ExecutorPool::service(const zmq::pollitem_t* items, std::vector<Completion>& done) {
  for (std::size_t i = 0; i < executors_.size(); ++i) {
    Executor& e = *executors_[i];
    const zmq::pollitem_t* it = items + i * kItemsPerExecutor;
    if (!e.process.running()) {
      if (Clock::now() >= e.respawn_at) {
        try {
          spawn(e);
        } catch (const std::exception& ex) {
          log::error("cannot start an executor: {}", ex.what());
          e.respawn_at = Clock::now() + std::chrono::seconds(1);
        }
      }
      continue;
    }
    if (it[1].revents) relay(e, e.out.get(), e.out_partial, stdout, false);
    if (it[2].revents) relay(e, e.err.get(), e.err_partial, stderr, false);
    if (it[0].revents & ZMQ_POLLOUT) {
      if (!write_some(e.channel.get(), e.pending)) e.channel_open = false;
    }
    if (it[0].revents & ZMQ_POLLIN) {
      bool open = e.reader.fill(e.channel.get());
      try {
        while (auto frame = e.reader.next()) {
          msgpack::object_handle h = msgpack::unpack(frame->data(), frame->size());
          const msgpack::object& m = h.get();
          if (m.type != msgpack::type::ARRAY || m.via.array.size < 4 ||
              m.via.array.ptr[0].as<std::uint8_t>() != kDone)
            throw std::runtime_error("unexpected frame");
          std::uint64_t tag = m.via.array.ptr[1].as<std::uint64_t>();
          auto status = static_cast<proto::Status>(m.via.array.ptr[2].as<std::uint8_t>());
          const msgpack::object& payload = m.via.array.ptr[3];
          // Lines written before the result belong to this task.
          relay(e, e.out.get(), e.out_partial, stdout, true);
          relay(e, e.err.get(), e.err_partial, stderr, true);
          if (e.tag == tag) {
            done.push_back(Completion{tag, status, std::string(payload.via.bin.ptr, payload.via.bin.size),
                                      static_cast<std::uint32_t>(e.process.pid()), std::nullopt});
            e.tag.reset();
            e.label.clear();
          }
        }
      } catch (const std::exception& ex) {
        log::error("executor {} sent a broken frame ({}): stopping it", e.process.pid(), ex.what());
        open = false;
      }
      if (!open) {
        // Without its channel the executor is of no use: make sure it ends.
        e.channel_open = false;
        e.process.signal(SIGKILL);
      }
    }
    if (it[3].revents & ZMQ_POLLIN) reap(e, done);
  }
}

std::vector<pid_t> ExecutorPool::pids() const {
  std::vector<pid_t> out;
  for (const auto& e : executors_)
    if (e->process.running()) out.push_back(e->process.pid());
  return out;
}

}  // namespace uni::worker
