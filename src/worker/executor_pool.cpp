// Executor processes, supervisor side (see executor_pool.hpp).
#include "worker/executor_pool.hpp"

#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <optional>
#include <thread>

#include "common/log.hpp"
#include "common/unique_fd.hpp"
#include "worker/channel.hpp"
#include "worker/executor.hpp"
#include "worker/output_lines.hpp"
#include "worker/python_probe.hpp"
#include "worker/seccomp_filter.hpp"
#include "worker/status_page.hpp"

namespace uni::worker {

namespace {

constexpr int kItemsPerExecutor = 4;  // channel, stdout, stderr, pidfd

// An executor asked to retire (its channel shut) gets this long to exit
// before it is killed: it has nothing left to do but its exit handlers.
constexpr auto kRetireGrace = std::chrono::seconds(2);

// An executor whose channel closed while it still runs is given this long to
// end by itself before it is stopped (on_channel_lost).
constexpr auto kChannelLossGrace = std::chrono::milliseconds(200);

// Raw writes to fd 1/2 are read at most this much per turn of the loop, so a
// flood of them neither starves the rest nor piles up here.
constexpr std::size_t kRawReadPerTurn = 256 * 1024;

const char* const kChannelLost =
    "executor lost its channel to the supervisor (did the task close descriptor 3?)";

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

std::string become_frame(std::uint64_t tag, std::uint64_t request, const std::string& path,
                         const std::string& function) {
  msgpack::sbuffer buffer;
  msgpack::packer<msgpack::sbuffer> p(buffer);
  p.pack_array(5);
  p.pack_uint8(kBecome);
  p.pack_uint64(tag);
  p.pack_uint64(request);
  p.pack(path);
  p.pack(function);
  std::string frame;
  append_frame(frame, std::string_view(buffer.data(), buffer.size()));
  return frame;
}

std::string load_frame(const std::string& path, const ModuleHash& hash) {
  msgpack::sbuffer buffer;
  msgpack::packer<msgpack::sbuffer> p(buffer);
  p.pack_array(3);
  p.pack_uint8(kLoad);
  p.pack(path);
  p.pack_bin(static_cast<std::uint32_t>(hash.raw().size()));
  p.pack_bin_body(hash.raw().data(), static_cast<std::uint32_t>(hash.raw().size()));
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

// Sets what an executor's environment is: the worker's, or, sandboxed, the
// worker's without its secrets (sandbox.hpp).
void set_executor_env(SpawnOptions& spawn, SandboxLevel sandbox) {
  spawn.env = executor_env();
  if (sandbox == SandboxLevel::kOff) return;
  std::vector<std::string> env = scrubbed_environment();
  auto name_of = [](std::string_view entry) { return entry.substr(0, entry.find('=') + 1); };
  for (const std::string& mine : spawn.env)
    std::erase_if(env, [&](const std::string& e) { return name_of(e) == name_of(mine); });
  env.insert(env.end(), spawn.env.begin(), spawn.env.end());
  spawn.env = std::move(env);
  spawn.inherit_env = false;
}

// Passes `text` through `lines`, writing each line to `to` with the label in
// front. The label is made only when there is a line to write: most tasks
// print nothing.
template <typename Label>
void relay(FILE* to, const Label& make_label, OutputLines& lines, std::string_view text,
           bool final) {
  std::string label;
  auto write_line = [&](std::string_view line) {
    if (label.empty()) label = make_label();
    std::fprintf(to, "[%s] %.*s\n", label.c_str(), static_cast<int>(line.size()), line.data());
  };
  if (!text.empty()) lines.add(text, write_line);
  if (final) lines.finish(write_line);
  if (!label.empty()) std::fflush(to);
}

// Whether the kernel gives executors a PID namespace: a short-lived
// `uni executor --probe-pid-namespace` tries. The errno of a refusal, or 0.
int probe_pid_namespace_with(const std::string& program) {
  SpawnOptions probe;
  probe.argv = {program, "executor", "--probe-pid-namespace"};
  set_executor_env(probe, SandboxLevel::kOff);
  probe.stdin_null = true;
  ExitStatus status = Process::spawn(probe).wait();
  if (status.signaled) return EPERM;
  return status.code;
}

}  // namespace

struct ExecutorPool::Executor {
  struct InFlight {
    std::uint64_t tag;
    proto::TaskId task;
    OutputLines out, err;    // captured output, not yet a whole line
    bool exclusive = false;  // RunRequest::exclusive: nothing may queue behind it
  };
  Process process;
  UniqueFd channel, out, err;
  // Module images to send with the bytes of `pending` (LOAD frames).
  std::deque<OutgoingFd> pending_fds;
  // The modules (cache paths) sent to it with LOAD: it has them loaded.
  std::vector<std::string> loaded;
  // Readable to its service while a hand-over is requested (executor_service.hpp).
  UniqueFd handover;
  SharedStatusPage status;
  FrameReader reader;
  std::string pending;  // bytes for the channel not yet written
  bool channel_open = false;
  bool out_open = false, err_open = false;  // its stdout/stderr pipes not at their end
  std::deque<InFlight> inflight;            // handed over, in order; the front runs first
  OutputLines out_raw, err_raw;             // partial lines written straight to fd 1/2
  Clock::time_point spawned{};
  Clock::time_point respawn_at{};
  int quick_deaths = 0;
  unsigned handed = 0;  // tasks handed over since it started
  // Why it is being replaced, once it is: it takes no new task, and its
  // channel is shut when what it holds is done.
  std::optional<std::string> retiring;
  bool retire_quietly = false;  // routine (--max-tasks-per-executor): not worth an info line
  std::optional<Clock::time_point> retire_deadline;  // its channel is shut
  // When its channel closed or failed while it was not retiring.
  std::optional<Clock::time_point> lost_at;
  // What broke its channel, when the supervisor stopped it for that.
  std::optional<std::string> fault;

  bool channel_usable() const { return process.running() && channel_open; }
  bool takes_tasks() const { return channel_usable() && !retiring; }
  // Running an exclusive request (RunRequest::exclusive): nothing joins it.
  bool held_alone() const { return !inflight.empty() && inflight.front().exclusive; }
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

ExecutorPool::ExecutorPool(ExecutorPoolOptions options) : options_(std::move(options)) {
  // What an executor leaves behind when it dies comes here, to be ended.
  become_child_subreaper();
  if (options_.pid_namespace) {
    if (int refusal = probe_pid_namespace_with(options_.program); refusal != 0)
      throw std::runtime_error(
          "--pid-namespace on: the kernel refuses this user a PID namespace (" +
          std::string(std::strerror(refusal)) + ")");
    log::info("executors run in PID namespaces of their own");
  }
  if (options_.sandbox.level != SandboxLevel::kOff)
    log::info("executors run in a sandbox ({}): {}", sandbox_level_name(options_.sandbox.level),
              probe_sandbox(options_.program, options_.sandbox));
  else log::warn("--sandbox off: tasks run with the worker's environment, files and privileges");
  SpawnOptions env;
  set_executor_env(env, options_.sandbox.level);
  PythonSupport python = probe_python(options_.program, options_.sandbox,
                                      env.inherit_env ? scrubbed_environment() : env.env);
  if (!python.capability.empty()) {
    capabilities_.push_back(python.capability);
    log::info("Python functions: offered ({})", python.said);
  } else {
    log::warn("Python functions: not offered: {}", python.said);
  }
  for (unsigned i = 0; i < options_.slots; ++i) {
    executors_.push_back(std::make_unique<Executor>());
    spawn(*executors_.back());
  }
}

ExecutorPool::~ExecutorPool() {
  for (auto& e : executors_) e->process = Process();  // kills and reaps it
  // Then what they left: orphans reparented here are killed and reaped.
  for (int round = 0; round < 100; ++round) {
    sweep_orphans();
    if (!orphans_pending_) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

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
  e.handover.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!e.handover)
    throw std::runtime_error(std::string("cannot create an executor's eventfd: ") +
                             std::strerror(errno));

  SpawnOptions spawn;
  spawn.argv = {options_.program,  "executor",
                "--supervisor",    std::to_string(::getpid()),
                "--mem-limit",     std::to_string(options_.mem_limit),
                "--max-memory",    std::to_string(options_.max_memory),
                "--pid-namespace", options_.pid_namespace ? "1" : "0"};
  for (std::string& flag : sandbox_flags(options_.sandbox)) spawn.argv.push_back(std::move(flag));
  spawn.fds = {{child_channel.get(), kExecutorChannelFd},
               {e.status.fd(), kExecutorStatusFd},
               {e.handover.get(), kExecutorHandoverFd},
               {child_out.get(), 1},
               {child_err.get(), 2}};
  set_executor_env(spawn, options_.sandbox.level);
  spawn.stdin_null = true;
  // Its own process group: a Ctrl-C at the worker's terminal is the
  // supervisor's to handle (drain), not a crash of every running task.
  spawn.new_process_group = true;
  e.process = Process::spawn(spawn);
  e.reader = FrameReader();
  e.pending.clear();
  e.pending_fds.clear();
  e.loaded.clear();
  e.channel_open = true;
  e.out_open = e.err_open = true;
  e.inflight.clear();
  e.out_raw = OutputLines();
  e.err_raw = OutputLines();
  e.spawned = Clock::now();
  e.handed = 0;
  e.retiring.reset();
  e.retire_quietly = false;
  e.retire_deadline.reset();
  e.lost_at.reset();
  e.fault.reset();
  log::debug("executor {} started", e.process.pid());
}

std::size_t ExecutorPool::room() const {
  std::size_t n = 0;
  for (const auto& e : executors_)
    if (e->takes_tasks() && !e->held_alone() && e->inflight.size() < depth_)
      n += depth_ - e->inflight.size();
  return n;
}

bool ExecutorPool::start(RunRequest& request) {
  // The least loaded executor: idle ones first, so long tasks spread out.
  Executor* best = nullptr;
  std::size_t limit = request.exclusive ? 1 : depth_;
  for (auto& e : executors_)
    if (e->takes_tasks() && e->inflight.size() < limit &&
        !e->held_alone() &&
        (!best || e->inflight.size() < best->inflight.size()))
      best = e.get();
  if (!best) return false;
  send_module(*best, request.module_path, request.module, request.module_image);
  // Written from add_poll_items: one write for everything handed over in a
  // turn of the supervisor's loop.
  best->pending += run_frame(request);
  best->inflight.push_back({request.tag, request.task, {}, {}, request.exclusive});
  if (options_.max_tasks != 0 && ++best->handed >= options_.max_tasks) {
    best->retiring =
        "it ran " + std::to_string(options_.max_tasks) + " task(s) (--max-tasks-per-executor)";
    best->retire_quietly = true;
  }
  return true;
}

void ExecutorPool::send_module(Executor& e, const std::string& path, const ModuleHash& hash,
                               int image) {
  if (image < 0) return;
  for (const std::string& loaded : e.loaded)
    if (loaded == path) return;
  // Its own copy of the descriptor: the cache may drop its image before
  // this is written.
  UniqueFd copy(::fcntl(image, F_DUPFD_CLOEXEC, 0));
  if (!copy) {
    log::error("cannot pass module {} to executor {}: {}", hash.hex().substr(0, 12),
               e.process.pid(), std::strerror(errno));
    return;  // its RUN then fails to load the module, with that said
  }
  e.pending_fds.push_back({e.pending.size(), std::move(copy)});
  e.pending += load_frame(path, hash);
  e.loaded.push_back(path);
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
  // An executor with tasks in hand is busy even between two of them: for
  // short tasks it spends most of its time decoding, encoding and reading
  // the next one, with no task "running", and a count of running tasks
  // showed one or two busy slots of three executors at 100 % CPU.
  std::size_t n = 0;
  for (const auto& e : executors_)
    n += e->process.running() && (!e->inflight.empty() || e->status.page()->running_tag.load(
                                                              std::memory_order_acquire) != 0);
  return n;
}

void ExecutorPool::recall(unsigned depth) {
  for (auto& e : executors_) {
    if (!e->channel_usable() || e->inflight.size() <= depth) continue;
    StatusPage& page = *e->status.page();
    page.recall_to.store(e->inflight.back().tag, std::memory_order_release);
    page.recall_from.store(e->inflight[depth].tag, std::memory_order_release);
  }
}

// The supervisor's half of a hand-over (the executor's is executor_service.cpp):
// the BECOME frame goes on the channel first, then the request is published
// on the status page and the eventfd the service polls is written. Only the
// supervisor moves a request from idle to requested, and only it withdraws
// one; the executor accepts it with a compare-and-swap, so a withdrawal and
// an acceptance cannot both win.
std::string ExecutorPool::become(std::uint64_t tag, std::uint64_t request, const ModuleRef& module,
                                 const std::string& function) {
  for (auto& e : executors_) {
    if (!e->find(tag)) continue;
    StatusPage& page = *e->status.page();
    if (!e->channel_usable() || page.running_tag.load(std::memory_order_acquire) != tag)
      return "the service has not started on this worker yet";
    if (page.handover_capable_tag.load(std::memory_order_acquire) != tag)
      return "the service cannot hand over: its function does not take a uni::ServiceContext& "
             "first (uni/service.hpp), so `become` is refused; stop and spawn it instead";
    if (page.handover_state.load(std::memory_order_acquire) != kHandoverIdle)
      return "the service is still busy with an earlier become";
    page.handover_id.store(request, std::memory_order_release);
    send_module(*e, module.path, module.hash, module.image);
    e->pending += become_frame(tag, request, module.path, function);
    if (!write_some(e->channel.get(), e->pending, e->pending_fds)) {
      on_channel_lost(*e);
      return "the service's executor is not reachable";
    }
    page.handover_state.store(kHandoverRequested, std::memory_order_release);
    std::uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(e->handover.get(), &one, sizeof(one));
    return {};
  }
  return "the service no longer runs on this worker";
}

bool ExecutorPool::withdraw_become(std::uint64_t tag, std::uint64_t request) {
  for (auto& e : executors_) {
    if (!e->find(tag) || !e->process.running()) continue;
    StatusPage& page = *e->status.page();
    if (page.handover_id.load(std::memory_order_acquire) != request) return true;
    std::uint32_t expected = kHandoverRequested;
    if (!page.handover_state.compare_exchange_strong(expected, kHandoverIdle,
                                                     std::memory_order_acq_rel))
      return false;       // accepted: the outcome follows
    std::uint64_t count;  // the service must not see the eventfd readable any more
    [[maybe_unused]] ssize_t n = ::read(e->handover.get(), &count, sizeof(count));
    return true;
  }
  return true;  // its executor is gone: the service's end answers the request
}

void ExecutorPool::take_become_outcomes(std::vector<BecomeOutcome>& out) {
  for (BecomeOutcome& o : become_outcomes_) out.push_back(std::move(o));
  become_outcomes_.clear();
}

void ExecutorPool::unload(const std::string& module_path) {
  for (auto& e : executors_) {
    std::erase(e->loaded, module_path);
    if (!e->channel_usable()) continue;
    e->pending += unload_frame(module_path);
    if (!write_some(e->channel.get(), e->pending, e->pending_fds)) on_channel_lost(*e);
  }
}

void ExecutorPool::add_poll_items(std::vector<broker::PollItem>& items) {
  for (auto& e : executors_) {
    if (e->channel_usable() && !e->pending.empty() &&
        !write_some(e->channel.get(), e->pending, e->pending_fds))
      on_channel_lost(*e);
    // A descriptor at its end is left out (-1): poll would report its hang-up
    // on every turn, and the loop would spin until the executor is reaped.
    bool live = e->process.running();
    short channel_events = broker::kPollIn;
    if (!e->pending.empty()) channel_events |= broker::kPollOut;
    items.push_back({nullptr, e->channel_usable() ? e->channel.get() : -1, channel_events, 0});
    items.push_back({nullptr, live && e->out_open ? e->out.get() : -1, broker::kPollIn, 0});
    items.push_back({nullptr, live && e->err_open ? e->err.get() : -1, broker::kPollIn, 0});
    items.push_back({nullptr, live ? e->process.pidfd() : -1, broker::kPollIn, 0});
  }
}

namespace {
// Relays what a pipe of raw writes to fd 1/2 holds (up to kRawReadPerTurn),
// in lines labelled with the executor. Returns false at its end (every
// writer closed it).
bool relay_raw(int fd, OutputLines& lines, FILE* to, const std::string& label, bool final) {
  char chunk[16384];
  std::string text;
  bool open = true;
  while (text.size() < kRawReadPerTurn || final) {
    ssize_t n = ::read(fd, chunk, sizeof(chunk));
    if (n < 0 && errno == EINTR) continue;
    if (n == 0) open = false;
    if (n <= 0) break;
    text.append(chunk, static_cast<std::size_t>(n));
    if (final && text.size() >= kRawReadPerTurn) {
      relay(
          to, [&] { return label; }, lines, text, false);
      text.clear();
    }
  }
  relay(
      to, [&] { return label; }, lines, text, final);
  return open;
}
}  // namespace

void ExecutorPool::on_channel_lost(Executor& e) {
  e.channel_open = false;
  // Expected of an executor told to retire. Otherwise it is no use any more;
  // it may be dying already (the kernel closes a dying process's descriptors
  // before its parent hears of its death), so it gets a moment to end by
  // itself, with its own cause of death, before it is stopped (lost_at).
  if (!e.retire_deadline && !e.lost_at) e.lost_at = Clock::now();
}

void ExecutorPool::stop_broken(Executor& e, std::string why) {
  e.channel_open = false;
  if (!e.fault) e.fault = std::move(why);
  e.process.signal(SIGKILL);
}

void ExecutorPool::read_channel(Executor& e, std::vector<Completion>& done, bool dying) {
  bool open = e.reader.fill(e.channel.get());
  try {
    while (auto frame = e.reader.next()) {
      msgpack::object_handle h = detail::unpack_checked(frame->data(), frame->size());
      const msgpack::object& m = h.get();
      if (m.type != msgpack::type::ARRAY || m.via.array.size < 3)
        throw std::runtime_error("short frame");
      const msgpack::object* f = m.via.array.ptr;
      std::uint8_t kind = f[0].as<std::uint8_t>();
      if (kind == kRetire) {
        if (!e.retiring || e.retire_quietly) {
          e.retiring = f[2].as<std::string>();
          e.retire_quietly = false;
          log::info("executor {} is replaced once its tasks are done: {}", e.process.pid(),
                    *e.retiring);
        }
        continue;
      }
      if (m.via.array.size < 4) throw std::runtime_error("short frame");
      std::uint64_t tag = f[1].as<std::uint64_t>();
      Executor::InFlight* task = e.find(tag);
      if (kind == kOutput) {
        const msgpack::object& bytes = f[3];
        std::string_view text(bytes.via.bin.ptr,
                              bytes.type == msgpack::type::BIN ? bytes.via.bin.size : 0);
        if (f[2].as<std::uint8_t>() == 2)
          relay(stderr, e.label_of(task), task ? task->err : e.err_raw, text, false);
        else relay(stdout, e.label_of(task), task ? task->out : e.out_raw, text, false);
        continue;
      }
      if (kind == kBecame) {
        if (m.via.array.size < 6) throw std::runtime_error("short BECAME frame");
        become_outcomes_.push_back({tag, f[2].as<std::uint64_t>(), f[3].as<bool>(),
                                    f[4].as<std::string>(), f[5].as<std::uint64_t>()});
        continue;
      }
      if (kind != kDone || m.via.array.size < 5) throw std::runtime_error("unexpected frame");
      if (!task) continue;
      relay(stdout, e.label_of(task), task->out, "", true);
      relay(stderr, e.label_of(task), task->err, "", true);
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
    stop_broken(e, std::string("executor sent a broken frame (") + ex.what() +
                       "; did the task write to descriptor 3?)");
    return;
  }
  if (!open && !dying) on_channel_lost(e);
}

void ExecutorPool::retire_when_idle(Executor& e, Clock::time_point now) {
  if (!e.process.running() || !e.retiring) return;
  if (!e.retire_deadline) {
    if (!e.inflight.empty() || !e.pending.empty() || !e.channel_open) return;
    // Nothing is left in it: shutting the channel ends its loop, and it exits.
    ::shutdown(e.channel.get(), SHUT_WR);
    e.channel_open = false;
    e.retire_deadline = now + kRetireGrace;
    return;
  }
  if (now >= *e.retire_deadline) {
    log::warn("executor {} did not exit within {} s of being retired: killing it", e.process.pid(),
              std::chrono::duration_cast<std::chrono::seconds>(kRetireGrace).count());
    e.process.signal(SIGKILL);
    e.retire_deadline = Clock::time_point::max();
  }
}

void ExecutorPool::reap(Executor& e, std::vector<Completion>& done) {
  read_channel(e, done, true);  // results it wrote before it died
  relay_raw(e.out.get(), e.out_raw, stdout, e.raw_label(), true);
  relay_raw(e.err.get(), e.err_raw, stderr, e.raw_label(), true);
  ExitStatus status = e.process.wait();
  auto pid = static_cast<std::uint32_t>(e.process.pid());
  // The task that was running when it died is charged with its death,
  // whatever the cause; so is the task started last if it died between tasks
  // before that task's result came out (the task broke the channel, say), or
  // the tasks the executor names (charge_from) when it could not tell which
  // of several quick ones broke it. The others handed over with it either
  // never started or finished without their result getting out: they go back
  // to be run again, uncharged.
  const StatusPage& page = *e.status.page();
  std::uint64_t culprit = page.running_tag.load(std::memory_order_acquire);
  std::uint64_t charged_from = culprit, charged_to = culprit;
  if (culprit == 0) {
    std::uint64_t last = page.last_started_tag.load(std::memory_order_acquire);
    std::uint64_t suspects_from = page.charge_from.load(std::memory_order_acquire);
    if (last != 0 && e.find(last)) culprit = last;
    charged_from = suspects_from != 0 ? suspects_from : culprit;
    charged_to = culprit;
  }
  // An executor exits 0 by itself only when its channel is gone.
  bool clean_exit = !status.signaled && status.code == 0;
  bool between_tasks = page.running_tag.load(std::memory_order_acquire) == 0;
  std::string cause = e.fault ? *e.fault
                      : clean_exit && between_tasks && !e.retire_deadline
                          ? kChannelLost
                          : "executor " + status.describe();
  // Dead of the SIGSYS of a call the sandbox denies (seccomp_filter.hpp).
  std::int32_t denied = page.denied_syscall.load(std::memory_order_acquire);
  bool sandbox_stop = !e.fault && status.signaled && status.code == SIGSYS && denied > 0;
  if (sandbox_stop) {
    cause = "sandbox: " + syscall_name(denied) + " denied";
    log::warn("executor {} stopped: {}", pid, cause);
  }
  for (auto& task : e.inflight) {
    relay(stdout, e.label_of(&task), task.out, "", true);
    relay(stderr, e.label_of(&task), task.err, "", true);
    Completion c;
    c.tag = task.tag;
    c.pid = pid;
    if (culprit != 0 && task.tag >= charged_from && task.tag <= charged_to) {
      c.status = proto::Status::kCrashed;
      c.died = status;
      c.cause = cause;
      c.denied = sandbox_stop;
    } else {
      c.status = proto::Status::kHandedBack;
      c.payload = "its executor died while running another task";
    }
    done.push_back(std::move(c));
  }
  if (culprit == 0) {
    if (!e.retiring) log::warn("executor {}: {} between tasks", pid, cause);
    else if (!e.retire_deadline || !clean_exit)
      log::warn("executor {} was to be replaced ({}) and ended: {}", pid, *e.retiring, cause);
    else if (e.retire_quietly) log::debug("executor {} replaced: {}", pid, *e.retiring);
    else log::info("executor {} replaced: {}", pid, *e.retiring);
  }
  // An executor that keeps dying at once (a broken install, no memory) is
  // restarted at most once a second instead of in a tight loop.
  bool quick = !e.retiring && Clock::now() - e.spawned < std::chrono::seconds(1);
  e.quick_deaths = quick ? e.quick_deaths + 1 : 0;
  e.respawn_at =
      Clock::now() + (e.quick_deaths > 2 ? std::chrono::seconds(1) : std::chrono::seconds(0));
  e.process = Process();
  e.inflight.clear();
  e.channel_open = false;
  sweep_orphans();
}

void ExecutorPool::sweep_orphans() {
  // Children of the supervisor that are not its executors: what an executor
  // left when it died, reparented here (we are their subreaper), or the init
  // of its PID namespace. Killed with what they started, then reaped.
  std::vector<pid_t> executors;
  for (const auto& e : executors_)
    if (e->process.running()) executors.push_back(e->process.pid());
  orphans_pending_ = false;
  for (pid_t child : child_processes(::getpid())) {
    if (std::find(executors.begin(), executors.end(), child) != executors.end()) continue;
    kill_descendants(child);
    ::kill(child, SIGKILL);
    if (::waitpid(child, nullptr, WNOHANG) == 0) orphans_pending_ = true;
  }
}

void ExecutorPool::service(const broker::PollItem* items, std::vector<Completion>& done) {
  Clock::time_point now = Clock::now();
  for (std::size_t i = 0; i < executors_.size(); ++i) {
    Executor& e = *executors_[i];
    const broker::PollItem* it = items + i * kItemsPerExecutor;
    if (!e.process.running()) {
      if (now >= e.respawn_at) {
        try {
          spawn(e);
        } catch (const std::exception& ex) {
          log::error("cannot start an executor: {}", ex.what());
          e.respawn_at = now + std::chrono::seconds(1);
        }
      }
      continue;
    }
    if (it[1].revents) e.out_open = relay_raw(e.out.get(), e.out_raw, stdout, e.raw_label(), false);
    if (it[2].revents) e.err_open = relay_raw(e.err.get(), e.err_raw, stderr, e.raw_label(), false);
    if ((it[0].revents & broker::kPollOut) &&
        !write_some(e.channel.get(), e.pending, e.pending_fds))
      on_channel_lost(e);
    if (it[0].revents & broker::kPollIn) read_channel(e, done);
    if (it[3].revents & broker::kPollIn) {
      reap(e, done);
    } else if (e.lost_at && now - *e.lost_at >= kChannelLossGrace) {
      stop_broken(e, kChannelLost);
      e.lost_at.reset();
    } else {
      retire_when_idle(e, now);
    }
  }
  // Orphans killed earlier whose end had not come yet (their own children
  // come here as they die): reaped on later turns.
  if (orphans_pending_) sweep_orphans();
}

}  // namespace uni::worker
