// Executor process main loop (see executor.hpp). Tasks arrive in batches when
// they are short; results go back in batches too: the channel is written when
// no further task is waiting, or at least every millisecond. A task's stdout
// and stderr are captured in-process (stdio and iostreams) and sent in-band,
// tagged with the task, in pieces of at most 64 KiB, so a task that prints
// nothing costs nothing and one that prints without newlines costs little.
// Processes a task starts end with it (task_processes.hpp); after an
// out-of-memory failure, or past --max-executor-memory, the executor asks to
// be replaced (RETIRE).
#include "worker/executor.hpp"

#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fcntl.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <deque>
#include <ext/stdio_sync_filebuf.h>
#include <iostream>
#include <map>
#include <memory>
#include <utility>

#include "worker/channel.hpp"
#include "worker/executor_keeper.hpp"
#include "worker/executor_service.hpp"
#include "worker/module_loader.hpp"
#include "worker/seccomp_filter.hpp"
#include "worker/status_page.hpp"
#include "worker/task_processes.hpp"

namespace uni::worker {

namespace {

using Clock = std::chrono::steady_clock;

// Results not yet written are flushed at least this often.
constexpr auto kFlushInterval = std::chrono::milliseconds(1);
constexpr std::size_t kFlushBytes = 256 * 1024;

void pack_bin(msgpack::packer<msgpack::sbuffer>& p, std::string_view data) {
  p.pack_bin(static_cast<std::uint32_t>(data.size()));
  p.pack_bin_body(data.data(), static_cast<std::uint32_t>(data.size()));
}

// Frames waiting to be written to the supervisor.
class Outbox {
 public:
  void done(std::uint64_t tag, const Outcome& outcome, std::int64_t elapsed_ns) {
    msgpack::sbuffer buffer(outcome.payload.size() + 40);
    msgpack::packer<msgpack::sbuffer> p(buffer);
    p.pack_array(5);
    p.pack_uint8(kDone);
    p.pack_uint64(tag);
    p.pack_uint8(static_cast<std::uint8_t>(outcome.status));
    pack_bin(p, outcome.payload);
    p.pack_uint64(static_cast<std::uint64_t>(elapsed_ns));
    add(std::string_view(buffer.data(), buffer.size()));
  }

  void retire(bool out_of_memory, std::string_view reason) {
    msgpack::sbuffer buffer(reason.size() + 16);
    msgpack::packer<msgpack::sbuffer> p(buffer);
    p.pack_array(3);
    p.pack_uint8(kRetire);
    if (out_of_memory) p.pack_true();
    else p.pack_false();
    p.pack_str(static_cast<std::uint32_t>(reason.size()));
    p.pack_str_body(reason.data(), static_cast<std::uint32_t>(reason.size()));
    add(std::string_view(buffer.data(), buffer.size()));
  }

  void became(std::uint64_t tag, const BecomeReport& report) {
    msgpack::sbuffer buffer(report.text.size() + 48);
    msgpack::packer<msgpack::sbuffer> p(buffer);
    p.pack_array(6);
    p.pack_uint8(kBecame);
    p.pack_uint64(tag);
    p.pack_uint64(report.id);
    if (report.ok) p.pack_true();
    else p.pack_false();
    p.pack(report.text);
    p.pack_uint64(static_cast<std::uint64_t>(report.handover.count()));
    add(std::string_view(buffer.data(), buffer.size()));
  }

  void output(std::uint64_t tag, std::uint8_t stream, std::string_view bytes) {
    msgpack::sbuffer buffer(bytes.size() + 24);
    msgpack::packer<msgpack::sbuffer> p(buffer);
    p.pack_array(4);
    p.pack_uint8(kOutput);
    p.pack_uint64(tag);
    p.pack_uint8(stream);
    pack_bin(p, bytes);
    add(std::string_view(buffer.data(), buffer.size()));
  }

  bool due(Clock::time_point now) const {
    return !pending_.empty() && (pending_.size() > kFlushBytes || now - since_ >= kFlushInterval);
  }

  // Returns false if the supervisor is gone.
  bool flush() {
    if (pending_.empty()) return true;
    bool ok = write_all(kExecutorChannelFd, pending_);
    pending_.clear();
    return ok;
  }

 private:
  void add(std::string_view frame) {
    if (pending_.empty()) since_ = Clock::now();
    append_frame(pending_, frame);
  }
  std::string pending_;
  Clock::time_point since_{};
};

// Where the running task's stdio output goes: OUTPUT frames, sent at once
// (a task that prints wants its lines seen while it runs).
struct Capture {
  Outbox* outbox = nullptr;
  std::uint64_t tag = 0;
  std::uint8_t stream = 1;
};

// Output goes out in pieces of at most this much, each written before the
// next is made: a task that writes 100 MB at once costs 64 KiB here, and the
// supervisor reads frames of that size (it cuts lines itself, output_lines.hpp).
constexpr std::size_t kOutputPiece = 64 * 1024;

ssize_t capture_write(void* cookie, const char* data, size_t size) {
  auto* c = static_cast<Capture*>(cookie);
  for (std::size_t done = 0; done < size; done += kOutputPiece) {
    c->outbox->output(c->tag, c->stream,
                      std::string_view(data + done, std::min(kOutputPiece, size - done)));
    if (!c->outbox->flush()) return -1;
  }
  return static_cast<ssize_t>(size);
}

// Points stdout/stderr (and cout/cerr/clog, which libstdc++ binds to the
// FILE objects of its start-up) at the captures. Writes straight to fd 1 or 2
// bypass this and reach the supervisor's pipes, labelled with the executor.
class OutputRedirect {
 public:
  OutputRedirect(Capture& out, Capture& err) {
    cookie_io_functions_t io{nullptr, &capture_write, nullptr, nullptr};
    out_file_ = ::fopencookie(&out, "w", io);
    err_file_ = ::fopencookie(&err, "w", io);
    if (!out_file_ || !err_file_) {  // no capture: output goes to fds 1 and 2
      if (out_file_) std::fclose(std::exchange(out_file_, nullptr));
      if (err_file_) std::fclose(std::exchange(err_file_, nullptr));
      return;
    }
    std::setvbuf(out_file_, nullptr, _IOLBF, 16384);
    std::setvbuf(err_file_, nullptr, _IONBF, 0);
    stdout = out_file_;
    stderr = err_file_;
    out_buf_ = std::make_unique<__gnu_cxx::stdio_sync_filebuf<char>>(out_file_);
    err_buf_ = std::make_unique<__gnu_cxx::stdio_sync_filebuf<char>>(err_file_);
    saved_cout_ = std::cout.rdbuf(out_buf_.get());
    saved_cerr_ = std::cerr.rdbuf(err_buf_.get());
    saved_clog_ = std::clog.rdbuf(err_buf_.get());
  }

  // Puts the start-up streams back before the captures and buffers go away:
  // the flush at exit (of std::cout and of every open FILE) must not reach
  // them, or every executor that returns dies of SIGSEGV at exit.
  ~OutputRedirect() {
    if (!out_file_ || !err_file_) return;
    std::cout.rdbuf(saved_cout_);
    std::cerr.rdbuf(saved_cerr_);
    std::clog.rdbuf(saved_clog_);
    stdout = saved_stdout_;
    stderr = saved_stderr_;
    std::fclose(out_file_);
    std::fclose(err_file_);
  }
  OutputRedirect(const OutputRedirect&) = delete;
  OutputRedirect& operator=(const OutputRedirect&) = delete;

 private:
  FILE* saved_stdout_ = stdout;
  FILE* saved_stderr_ = stderr;
  std::streambuf* saved_cout_ = nullptr;
  std::streambuf* saved_cerr_ = nullptr;
  std::streambuf* saved_clog_ = nullptr;
  FILE* out_file_ = nullptr;
  FILE* err_file_ = nullptr;
  std::unique_ptr<__gnu_cxx::stdio_sync_filebuf<char>> out_buf_, err_buf_;
};

std::string_view str_of(const msgpack::object& o) {
  if (o.type == msgpack::type::STR) return {o.via.str.ptr, o.via.str.size};
  if (o.type == msgpack::type::BIN) return {o.via.bin.ptr, o.via.bin.size};
  throw std::runtime_error("executor: expected a string field");
}

// This process's resident memory, from /proc/self/statm (opened each time:
// a task may have closed any descriptor); 0 if unreadable.
std::uint64_t resident_bytes() {
  int fd = ::open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  char text[128];
  ssize_t n = ::read(fd, text, sizeof(text) - 1);
  ::close(fd);
  if (n <= 0) return 0;
  text[n] = '\0';
  unsigned long long size = 0, resident = 0;
  if (std::sscanf(text, "%llu %llu", &size, &resident) != 2) return 0;
  return resident * static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
}

std::string mib(std::uint64_t bytes) { return std::to_string(bytes >> 20) + " MiB"; }

// The hand-over eventfd, if the supervisor passed one (kExecutorHandoverFd);
// else -1: services then run without ever being asked to hand over.
int handover_eventfd() {
  char target[64] = {};
  std::string link = "/proc/self/fd/" + std::to_string(kExecutorHandoverFd);
  ssize_t n = ::readlink(link.c_str(), target, sizeof(target) - 1);
  if (n <= 0 || std::string_view(target, static_cast<std::size_t>(n)) != "anon_inode:[eventfd]")
    return -1;
  ::fcntl(kExecutorHandoverFd, F_SETFD, FD_CLOEXEC);
  return kExecutorHandoverFd;
}

int serve(const ExecutorOptions& options, bool own_pid_namespace) {
  // Mapped before the address-space limit, which a small --mem-limit would
  // otherwise leave no room for.
  SharedStatusPage status = SharedStatusPage::attach(kExecutorStatusFd);
  StatusPage& page = *status.page();
  // A call the sandbox denies ends this process; the page says which.
  if (options.sandbox.level != SandboxLevel::kOff) record_denied_calls(&page.denied_syscall);
  // A program a task runs does not inherit the channel or the page: a child
  // holding the channel would hide the executor's end from the supervisor.
  ::fcntl(kExecutorChannelFd, F_SETFD, FD_CLOEXEC);
  ::fcntl(kExecutorStatusFd, F_SETFD, FD_CLOEXEC);
  TaskProcesses task_processes(own_pid_namespace);
  // The channel as it was at the start: a task that closes or replaces
  // descriptor 3 must be the last to run here, or the tasks already read
  // ahead would run after it, and one of them would be blamed for its fault.
  struct stat channel_at_start {};
  ::fstat(kExecutorChannelFd, &channel_at_start);
  auto channel_intact = [&] {
    struct stat now {};
    return ::fstat(kExecutorChannelFd, &now) == 0 && now.st_ino == channel_at_start.st_ino &&
           now.st_dev == channel_at_start.st_dev;
  };
  if (options.mem_limit > 0) {
    // Address-space limit: an allocation past it fails with std::bad_alloc,
    // which the task sees as a clean exception rather than the OOM killer.
    struct rlimit limit {
      options.mem_limit, options.mem_limit
    };
    if (::setrlimit(RLIMIT_AS, &limit) != 0) std::perror("executor: setrlimit(RLIMIT_AS)");
  }
  std::signal(SIGPIPE, SIG_IGN);  // a task writing to a closed socket gets EPIPE

  Outbox outbox;
  Capture out_capture{&outbox, 0, 1}, err_capture{&outbox, 0, 2};
  OutputRedirect redirect(out_capture, err_capture);

  std::map<std::string, std::unique_ptr<LoadedModule>, std::less<>> modules;
  // Modules whose LOAD failed, and why: their RUNs fail with that.
  std::map<std::string, std::string, std::less<>> load_errors;
  FrameReader reader(/*receive_fds=*/true);
  // Frames read while a service was handing over, before its BECOME: they
  // are handled, in order, once no service runs.
  std::deque<std::string> deferred;
  auto load = [&](const std::string& path, std::string& error) -> const LoadedModule* {
    auto it = modules.find(path);
    if (it != modules.end()) return it->second.get();
    if (auto failed = load_errors.find(path); failed != load_errors.end()) {
      error = failed->second;
      return nullptr;
    }
    // No LOAD came for it: only a supervisor that has no image (a test
    // driving an executor alone) names a file to load.
    try {
      return modules.emplace(path, LoadedModule::open(path)).first->second.get();
    } catch (const ModuleLoadError& e) {
      error = e.what();
      return nullptr;
    }
  };
  // LOAD: the module's sealed image came with the frame's first byte; it is
  // checked again (sealed, its hash) and loaded. Handled as soon as read,
  // in order, never deferred, so that each takes the descriptor sent with it.
  auto take_load = [&](const msgpack::object& msg) {
    const msgpack::object* f = msg.via.array.ptr;
    std::string path(str_of(f[1]));
    std::optional<ModuleHash> hash = ModuleHash::from_bytes(str_of(f[2]));
    UniqueFd image = reader.take_fd();
    if (modules.count(path)) return;
    try {
      if (!hash) throw ModuleLoadError("cannot load module: LOAD without a valid hash");
      modules.emplace(path, LoadedModule::open_image(std::move(image), *hash));
      load_errors.erase(path);
    } catch (const ModuleLoadError& e) {
      load_errors[path] = e.what();
    }
  };
  auto is_load = [](const msgpack::object& msg) {
    return msg.type == msgpack::type::ARRAY && msg.via.array.size >= 3 &&
           msg.via.array.ptr[0].as<std::uint8_t>() == kLoad;
  };
  std::uint64_t service_tag = 0;  // the service running, for its BECAME frames
  ServiceHost service_host;
  service_host.page = &page;
  service_host.handover_fd = handover_eventfd();
  service_host.load = load;
  service_host.report = [&](const BecomeReport& report) {
    outbox.became(service_tag, report);
    outbox.flush();
  };
  service_host.next_order = [&](std::uint64_t id) -> std::optional<BecomeOrder> {
    for (;;) {
      while (std::optional<std::string> frame = reader.next()) {
        msgpack::object_handle handle = msgpack::unpack(frame->data(), frame->size());
        const msgpack::object& msg = handle.get();
        if (is_load(msg)) {
          take_load(msg);
          continue;
        }
        if (msg.type == msgpack::type::ARRAY && msg.via.array.size >= 5 &&
            msg.via.array.ptr[0].as<std::uint8_t>() == kBecome) {
          const msgpack::object* f = msg.via.array.ptr;
          if (f[2].as<std::uint64_t>() != id) continue;  // withdrawn earlier
          return BecomeOrder{id, std::string(str_of(f[3])), std::string(str_of(f[4]))};
        }
        deferred.push_back(std::move(*frame));
      }
      if (!reader.fill(kExecutorChannelFd, true)) return std::nullopt;
    }
  };
  bool retiring = false;
  // After an out-of-memory failure the memory a task leaked may stay here
  // and fail every later task: the rest of the pipeline goes back unrun.
  bool out_of_memory = false;

  // What follows a task's end costs system calls: ending the processes it
  // started, checking the channel, reading the resident memory. A task that
  // ran for kCheckAfter or longer is checked at once; quicker ones (which can
  // hardly have started a process: fork alone takes longer) together, before
  // the results of their batch go out. So a batch of microsecond tasks pays
  // two system calls, not two per task.
  constexpr auto kCheckAfter = std::chrono::microseconds(10);
  std::uint64_t unchecked_from = 0;  // the first task since the last check; 0: none
  // Returns false if the channel is gone: nothing more can be delivered.
  auto check = [&](std::uint64_t suspects_from) {
    if (unchecked_from == 0) return true;
    task_processes.end_all();
    if (!channel_intact()) {
      // The supervisor charges the tasks that may have done it (one, unless
      // a task quicker than kCheckAfter did) and hands back the rest.
      page.charge_from.store(suspects_from, std::memory_order_release);
      ::dprintf(STDERR_FILENO, "executor: a task closed or replaced its channel (descriptor 3)\n");
      return false;
    }
    unchecked_from = 0;
    if (!retiring && options.max_memory > 0) {
      std::uint64_t resident = resident_bytes();
      if (resident > options.max_memory) {
        retiring = true;
        outbox.retire(false, "its resident memory (" + mib(resident) +
                                 ") passed --max-executor-memory (" + mib(options.max_memory) +
                                 ")");
      }
    }
    return true;
  };

  for (;;) {
    if (deferred.empty() && !reader.has_frame()) {
      // The batch handed over is done: check what it left before its results
      // go out. Then take whatever else has arrived; only when nothing has,
      // send the batch of results and wait.
      if (!check(unchecked_from)) return 0;
      if (!reader.fill(kExecutorChannelFd, false)) return 0;
      if (!reader.has_frame()) {
        if (!outbox.flush()) return 0;
        if (!reader.fill(kExecutorChannelFd, true)) return 0;
        continue;
      }
    }
    std::optional<std::string> frame;
    if (!deferred.empty()) {
      frame = std::move(deferred.front());
      deferred.pop_front();
    } else {
      frame = reader.next();
    }
    msgpack::object_handle handle = msgpack::unpack(frame->data(), frame->size());
    const msgpack::object& msg = handle.get();
    if (msg.type != msgpack::type::ARRAY || msg.via.array.size < 2) return 2;
    const msgpack::object* f = msg.via.array.ptr;
    std::uint8_t kind = f[0].as<std::uint8_t>();

    if (kind == kLoad) {
      if (msg.via.array.size < 3) return 2;
      take_load(msg);
      continue;
    }
    if (kind == kUnload) {
      modules.erase(std::string(str_of(f[1])));
      load_errors.erase(std::string(str_of(f[1])));
      continue;
    }
    if (kind == kBecome) continue;  // for a service that has ended, or a request withdrawn
    if (kind != kRun || msg.via.array.size < 5) return 2;
    std::uint64_t tag = f[1].as<std::uint64_t>();
    std::string path(str_of(f[2]));
    std::string_view function = str_of(f[3]);
    std::string_view args = str_of(f[4]);

    std::uint64_t recall_from = page.recall_from.load(std::memory_order_acquire);
    if (recall_from != 0 && tag >= recall_from &&
        tag <= page.recall_to.load(std::memory_order_acquire)) {
      outbox.done(tag, {proto::Status::kHandedBack, "taken back by the supervisor"}, 0);
      continue;
    }
    if (out_of_memory) {
      outbox.done(tag, {proto::Status::kHandedBack, "its executor ran out of memory"}, 0);
      continue;
    }

    Clock::time_point start = Clock::now();
    page.started_ns.store(start.time_since_epoch().count(), std::memory_order_relaxed);
    page.last_started_tag.store(tag, std::memory_order_relaxed);
    page.running_tag.store(tag, std::memory_order_release);
    out_capture.tag = err_capture.tag = tag;

    Outcome outcome;
    std::string load_error;
    if (const LoadedModule* module = load(path, load_error); !module) {
      outcome = {proto::Status::kModuleError, load_error};
    } else if (uni_service_invoke_fn service = module->find_service(function)) {
      // Takes a ServiceContext: it may become other code while it runs.
      service_tag = tag;
      outcome = run_service(service_host, tag, *module, std::string(function), service, args);
      service_tag = 0;
    } else {
      outcome = invoke(*module, function, args);
    }
    out_of_memory =
        outcome.status == proto::Status::kException && outcome.payload.starts_with("out of memory");
    if (out_of_memory && options.mem_limit > 0)
      outcome.payload += " under the worker's --mem-limit of " + mib(options.mem_limit);
    // The task's last partial line goes out before its result.
    std::fflush(stdout);
    std::fflush(stderr);

    Clock::time_point end = Clock::now();
    page.running_tag.store(0, std::memory_order_release);
    if (unchecked_from == 0) unchecked_from = tag;
    // A long task is checked now, and alone is suspected if the channel is
    // gone: a quick one before it could hardly have closed it unnoticed.
    if (end - start >= kCheckAfter && !check(tag)) return 0;
    outbox.done(tag, outcome,
                std::chrono::duration_cast<std::chrono::nanoseconds>(end - start).count());
    if (!retiring && out_of_memory) {
      retiring = true;
      outbox.retire(true, "a task ran out of memory in it");
    }
    if (retiring || outbox.due(end)) {
      if (!check(unchecked_from) || !outbox.flush()) return 0;
    }
  }
}

}  // namespace

int run_executor(const ExecutorOptions& options) {
  // The sandbox comes first, while this process has one thread: namespaces
  // and capabilities are per thread until then. The supervisor probed it
  // (probe_executor_sandbox): what is missing here was logged there.
  SandboxReport sandbox;
  enter_sandbox(options.sandbox, kExecutorHandoverFd, sandbox);
  auto locked_down = [&] {
    lock_down(options.sandbox, sandbox);
    if (sandbox_complete(options.sandbox, sandbox)) return true;
    ::dprintf(STDERR_FILENO, "executor: --sandbox strict: %s\n", sandbox.text().c_str());
    return false;
  };
  if (options.supervisor == 0) {  // started by hand: nothing to watch
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (!locked_down()) return 2;
    return serve(options, false);
  }
  if (options.pid_namespace)
    run_in_pid_namespace(options.supervisor, [&] {
      if (!locked_down()) return 2;
      return serve(options, true);
    });
  if (!locked_down()) return 2;
  // No parent-death signal: it would end the executor before the watchdog
  // could end what the tasks started.
  if (!watch_supervisor(options.supervisor)) return 1;
  return serve(options, false);
}

int probe_executor_sandbox(const ExecutorOptions& options) {
  SandboxReport sandbox;
  enter_sandbox(options.sandbox, STDERR_FILENO, sandbox);
  lock_down(options.sandbox, sandbox);
  std::printf("%s\n", sandbox.text().c_str());
  std::fflush(stdout);
  return sandbox_complete(options.sandbox, sandbox) ? 0 : 2;
}

}  // namespace uni::worker
