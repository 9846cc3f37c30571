// Executor processes, supervisor side (see executor_pool.hpp).
#include "worker/executor_pool.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>

#include "common/log.hpp"
#include "common/unique_fd.hpp"
#include "worker/channel.hpp"
#include "worker/executor.hpp"
#include "worker/status_page.hpp"

namespace uni::worker {

namespace {

constexpr int kItemsPerExecutor = 4;  // channel, stdout, stderr, pidfd

void set_nonblocking(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK); }

std::string run_frame(const RunRequest& r) {
  msgpack::sbuffer buffer(r.args.size() + r.module_path.size() + r.function.size() + 48);
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

// Writes complete lines of `text` with the label in front; keeps the rest.
// The label is made only when there is a line to write: most tasks print
// nothing.
template <typename Label>
void emit_lines(FILE* to, const Label& make_label, std::string& partial, std::string_view text,
                bool final) {
  if (text.empty() && (!final || partial.empty())) return;
  partial.append(text);
  std::string label;
  std::size_t start = 0;
  for (std::size_t nl; (nl = partial.find('\n', start)) != std::string::npos; start = nl + 1) {
    if (label.empty()) label = make_label();
    std::fprintf(to, "[%s] %.*s\n", label.c_str(), static_cast<int>(nl - start),
                 partial.data() + start);
  }
  partial.erase(0, start);
  if (final && !partial.empty()) {
    if (label.empty()) label = make_label();
    std::fprintf(to, "[%s] %s\n", label.c_str(), partial.c_str());
    partial.clear();
  }
  std::fflush(to);
}

}  // namespace

struct ExecutorPool::Executor {
  struct InFlight {
    std::uint64_t tag;
    proto::TaskId task;
    std::string out_partial, err_partial;  // captured output, not yet a whole line
  };
  Process process;
  UniqueFd channel, out, err;
  SharedStatusPage status;
  FrameReader reader;
  std::string pending;  // bytes for the channel not yet written
  bool channel_open = false;
  std::deque<InFlight> inflight;  // handed over, in order; the front runs first
  std::string out_raw, err_raw;   // partial lines written straight to fd 1/2
  Clock::time_point spawned{};
  Clock::time_point respawn_at{};
  int quick_deaths = 0;

  bool usable() const { return process.running() && channel_open; }
  InFlight* find(std::uint64_t tag) {
    for (auto& f : inflight)
      if (f.tag == tag) return &f;
    return nullptr;
  }
  std::string raw_label() const { return "executor " + std::to_string(process.pid()); }
  // Output lines are labelled with the task running, or else the executor.
  auto label_of(const InFlight* task) const {
    return [this, task] { return task ? task->task.str() : raw_label(); };
  }
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
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0 ||
      ::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0)
    throw std::runtime_error(std::string("cannot create executor channels: ") +
                             std::strerror(errno));
  UniqueFd child_channel(sv[1]), child_out(out[1]), child_err(err[1]);
  e.channel.reset(sv[0]);
  e.out.reset(out[0]);
  e.err.reset(err[0]);
  set_nonblocking(e.channel.get());
  set_nonblocking(e.out.get());
  set_nonblocking(e.err.get());
  e.status = SharedStatusPage::create();

  SpawnOptions spawn;
  spawn.argv = {"/proc/self/exe",           "executor",    "--supervisor",
                std::to_string(::getpid()), "--mem-limit", std::to_string(options_.mem_limit)};
  spawn.fds = {{child_channel.get(), kExecutorChannelFd},
               {e.status.fd(), kExecutorStatusFd},
               {child_out.get(), 1},
               {child_err.get(), 2}};
  spawn.env = executor_env();
  spawn.stdin_null = true;
  // Its own process group: a Ctrl-C at the worker's terminal is the
  // supervisor's to handle (drain), not a crash of every running task.
  spawn.new_process_group = true;
  e.process = Process::spawn(spawn);
  e.reader = FrameReader();
  e.pending.clear();
  e.channel_open = true;
  e.inflight.clear();
  e.spawned = Clock::now();
  log::debug("executor {} started", e.process.pid());
}

std::size_t ExecutorPool::room() const {
  std::size_t n = 0;
  for (const auto& e : executors_)
    if (e->usable() && e->inflight.size() < depth_) n += depth_ - e->inflight.size();
  return n;
}

bool ExecutorPool::start(RunRequest& request) {
  // The least loaded executor: idle ones first, so long tasks spread out.
  Executor* best = nullptr;
  std::size_t limit = request.exclusive ? 1 : depth_;
  for (auto& e : executors_)
    if (e->usable() && e->inflight.size() < limit &&
        (!best || e->inflight.size() < best->inflight.size()))
      best = e.get();
  if (!best) return false;
  // Written from add_poll_items: one write for everything handed over in a
  // turn of the supervisor's loop.
  best->pending += run_frame(request);
  best->inflight.push_back({request.tag, request.task, {}, {}});
  return true;
}

Runner::Stop ExecutorPool::stop(std::uint64_t tag, bool force) {
  for (auto& e : executors_) {
    if (!e->find(tag)) continue;
    if (!force && e->status.page()->running_tag.load(std::memory_order_acquire) != tag)
      return Stop::kNotStarted;
    e->process.signal(SIGKILL);
    return Stop::kStopping;
  }
  return Stop::kNotStarted;
}

std::optional<Runner::Clock::time_point> ExecutorPool::started(std::uint64_t tag) const {
  for (const auto& e : executors_) {
    const StatusPage& page = *e->status.page();
    if (!e->process.running() || page.running_tag.load(std::memory_order_acquire) != tag) continue;
    return Clock::time_point(Clock::duration(page.started_ns.load(std::memory_order_relaxed)));
  }
  return std::nullopt;
}

std::size_t ExecutorPool::executing() const {
  std::size_t n = 0;
  for (const auto& e : executors_)
    n += e->process.running() && e->status.page()->running_tag.load(std::memory_order_acquire) != 0;
  return n;
}

void ExecutorPool::recall(unsigned depth) {
  for (auto& e : executors_) {
    if (!e->usable() || e->inflight.size() <= depth) continue;
    StatusPage& page = *e->status.page();
    page.recall_to.store(e->inflight.back().tag, std::memory_order_release);
    page.recall_from.store(e->inflight[depth].tag, std::memory_order_release);
  }
}

void ExecutorPool::unload(const std::string& module_path) {
  for (auto& e : executors_) {
    if (!e->usable()) continue;
    e->pending += unload_frame(module_path);
    if (!write_some(e->channel.get(), e->pending)) e->channel_open = false;
  }
}

void ExecutorPool::add_poll_items(std::vector<zmq::pollitem_t>& items) {
  for (auto& e : executors_) {
    if (e->usable() && !e->pending.empty() && !write_some(e->channel.get(), e->pending))
      e->channel_open = false;
    bool live = e->process.running();
    short channel_events = e->usable() ? ZMQ_POLLIN : 0;
    if (e->usable() && !e->pending.empty()) channel_events |= ZMQ_POLLOUT;
    short in = live ? ZMQ_POLLIN : 0;
    items.push_back({nullptr, e->channel.get(), channel_events, 0});
    items.push_back({nullptr, e->out.get(), in, 0});
    items.push_back({nullptr, e->err.get(), in, 0});
    items.push_back({nullptr, live ? e->process.pidfd() : -1, in, 0});
  }
}

namespace {
// Drains a pipe of raw writes to fd 1/2 into lines labelled with the executor.
void relay_raw(int fd, std::string& partial, FILE* to, const std::string& label, bool final) {
  char chunk[16384];
  std::string text;
  for (;;) {
    ssize_t n = ::read(fd, chunk, sizeof(chunk));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    text.append(chunk, static_cast<std::size_t>(n));
  }
  if (!text.empty() || (final && !partial.empty()))
    emit_lines(
        to, [&] { return label; }, partial, text, final);
}
}  // namespace

void ExecutorPool::read_channel(Executor& e, std::vector<Completion>& done) {
  bool open = e.reader.fill(e.channel.get());
  try {
    while (auto frame = e.reader.next()) {
      msgpack::object_handle h = detail::unpack_checked(frame->data(), frame->size());
      const msgpack::object& m = h.get();
      if (m.type != msgpack::type::ARRAY || m.via.array.size < 4)
        throw std::runtime_error("short frame");
      const msgpack::object* f = m.via.array.ptr;
      std::uint8_t kind = f[0].as<std::uint8_t>();
      std::uint64_t tag = f[1].as<std::uint64_t>();
      Executor::InFlight* task = e.find(tag);
      if (kind == kOutput) {
        const msgpack::object& bytes = f[3];
        std::string_view text(bytes.via.bin.ptr,
                              bytes.type == msgpack::type::BIN ? bytes.via.bin.size : 0);
        if (f[2].as<std::uint8_t>() == 2)
          emit_lines(stderr, e.label_of(task), task ? task->err_partial : e.err_raw, text, false);
        else
          emit_lines(stdout, e.label_of(task), task ? task->out_partial : e.out_raw, text, false);
        continue;
      }
      if (kind != kDone || m.via.array.size < 5) throw std::runtime_error("unexpected frame");
      if (!task) continue;
      emit_lines(stdout, e.label_of(task), task->out_partial, "", true);
      emit_lines(stderr, e.label_of(task), task->err_partial, "", true);
      const msgpack::object& payload = f[3];
      Completion c;
      c.tag = tag;
      c.status = static_cast<proto::Status>(f[2].as<std::uint8_t>());
      c.payload.assign(payload.via.bin.ptr,
                       payload.type == msgpack::type::BIN ? payload.via.bin.size : 0);
      c.pid = static_cast<std::uint32_t>(e.process.pid());
      c.elapsed_ns = f[4].as<std::int64_t>();
      done.push_back(std::move(c));
      // Results come in the order the tasks were handed over.
      while (!e.inflight.empty() && e.inflight.front().tag != tag) e.inflight.pop_front();
      if (!e.inflight.empty()) e.inflight.pop_front();
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

void ExecutorPool::reap(Executor& e, std::vector<Completion>& done) {
  read_channel(e, done);  // results it wrote before it died
  relay_raw(e.out.get(), e.out_raw, stdout, e.raw_label(), true);
  relay_raw(e.err.get(), e.err_raw, stderr, e.raw_label(), true);
  ExitStatus status = e.process.wait();
  auto pid = static_cast<std::uint32_t>(e.process.pid());
  // The status page names the task that was running; the others handed over
  // with it either never started or finished without their result getting
  // out: they go back to be run again, uncharged.
  std::uint64_t running = e.status.page()->running_tag.load(std::memory_order_acquire);
  for (auto& task : e.inflight) {
    emit_lines(stdout, e.label_of(&task), task.out_partial, "", true);
    emit_lines(stderr, e.label_of(&task), task.err_partial, "", true);
    Completion c;
    c.tag = task.tag;
    c.pid = pid;
    if (task.tag == running) {
      c.status = proto::Status::kCrashed;
      c.died = status;
    } else {
      c.status = proto::Status::kHandedBack;
      c.payload = "its executor died while running another task";
    }
    done.push_back(std::move(c));
  }
  if (e.inflight.empty() || running == 0)
    log::warn("executor {} {} between tasks", pid, status.describe());
  // An executor that keeps dying at once (a broken install, no memory) is
  // restarted at most once a second instead of in a tight loop.
  bool quick = Clock::now() - e.spawned < std::chrono::seconds(1);
  e.quick_deaths = quick ? e.quick_deaths + 1 : 0;
  e.respawn_at =
      Clock::now() + (e.quick_deaths > 2 ? std::chrono::seconds(1) : std::chrono::seconds(0));
  e.process = Process();
  e.inflight.clear();
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
    if (it[1].revents) relay_raw(e.out.get(), e.out_raw, stdout, e.raw_label(), false);
    if (it[2].revents) relay_raw(e.err.get(), e.err_raw, stderr, e.raw_label(), false);
    if ((it[0].revents & ZMQ_POLLOUT) && !write_some(e.channel.get(), e.pending))
      e.channel_open = false;
    if (it[0].revents & ZMQ_POLLIN) read_channel(e, done);
    if (it[3].revents & ZMQ_POLLIN) reap(e, done);
  }
}

}  // namespace uni::worker
