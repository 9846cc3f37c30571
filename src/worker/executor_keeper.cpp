// The executor's watchdog thread, and its optional PID namespace and keeper
// (see executor_keeper.hpp). Everything here starts in a freshly exec'd,
// single-threaded `uni executor`, before any task code.
#include "worker/executor_keeper.hpp"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "common/process.hpp"
#include "common/unique_fd.hpp"
#include "worker/executor.hpp"

#if defined(__SANITIZE_ADDRESS__)
#include <atomic>

// LeakSanitizer stops the world by ptrace-attaching the threads it lists in
// /proc/self/task; in a PID namespace under the host's /proc those are ids of
// the outer namespace, so its check at exit can only fail ("does not work
// under ptrace"). The executor turns it off there through the runtime's own
// hook (a global because the hook is one); the same executor code is
// leak-checked outside a namespace (the tests' Keepers variants).
namespace {
std::atomic<bool> leak_check_impossible{false};
}
extern "C" int __lsan_is_turned_off() { return leak_check_impossible.load() ? 1 : 0; }
#endif

namespace uni::worker {

namespace {

// What the keeper allows for ending the processes left behind before it
// gives up on those that do not die (uninterruptible sleep).
constexpr auto kEndTimeout = std::chrono::seconds(2);

int pidfd_of(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

bool write_file(const char* path, const std::string& text) {
  int fd = ::open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ::close(fd);
  return ok;
}

pid_t wait_for(pid_t pid, int& status) {
  for (;;) {
    pid_t got = ::waitpid(pid, &status, 0);
    if (got >= 0 || errno != EINTR) return got;
  }
}

// Ends this process the way another ended: the keeper stands for the
// executor, and the supervisor reads the cause of death from it.
[[noreturn]] void end_as(int signal_number, int exit_code) {
  if (signal_number == 0) ::_exit(exit_code);
  struct rlimit no_core {
    0, 0
  };
  ::setrlimit(RLIMIT_CORE, &no_core);  // the executor dumped its own core, if any
  ::signal(signal_number, SIG_DFL);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, signal_number);
  ::sigprocmask(SIG_UNBLOCK, &set, nullptr);
  ::raise(signal_number);
  ::_exit(128 + signal_number);  // a signal whose default is not to end a process
}

// PID 1 of the executor's namespace: forks the executor as PID 2, reaps what
// is reparented to it, and, when the executor ends, reports how through
// `report` and exits, which makes the kernel kill everything else in the
// namespace.
[[noreturn]] void run_init(int report, const std::function<int()>& executor) {
  pid_t executor_pid = ::fork();
  if (executor_pid < 0) ::_exit(1);
  if (executor_pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    ::close(report);
#if defined(__SANITIZE_ADDRESS__)
    leak_check_impossible = true;
#endif
    std::exit(executor());
  }
  // Only the executor holds its channel and status page, so that the
  // supervisor sees the channel close when the executor ends.
  ::close(kExecutorChannelFd);
  ::close(kExecutorStatusFd);
  ::close(STDIN_FILENO);
  for (;;) {
    int status = 0;
    pid_t ended = wait_for(-1, status);
    if (ended < 0) ::_exit(1);
    if (ended != executor_pid) continue;  // an orphan the executor left: reaped
    unsigned char signal_number = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    [[maybe_unused]] ssize_t n = ::write(report, &signal_number, 1);
    ::_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 0);
  }
}

}  // namespace

int unshare_pid_namespace() {
  if (::unshare(CLONE_NEWPID) == 0) return 0;
  // Unprivileged: a user namespace gives the capability for the PID
  // namespace. It maps this process's own uid and gid, so files and
  // permissions look the same to tasks; supplementary groups show as the
  // overflow group, and setgroups(2) is denied (required for an unprivileged
  // gid map).
  uid_t uid = ::getuid();
  gid_t gid = ::getgid();
  if (::unshare(CLONE_NEWUSER | CLONE_NEWPID) != 0) return errno;
  if (!write_file("/proc/self/setgroups", "deny") ||
      !write_file("/proc/self/uid_map", std::to_string(uid) + " " + std::to_string(uid) + " 1") ||
      !write_file("/proc/self/gid_map", std::to_string(gid) + " " + std::to_string(gid) + " 1"))
    return errno ? errno : EPERM;
  return 0;
}

bool watch_supervisor(pid_t supervisor) {
  int fd = pidfd_of(supervisor);
  if (fd < 0 || ::getppid() != supervisor) return false;
  // Out of the way of tasks that close every low descriptor.
  int high = ::fcntl(fd, F_DUPFD_CLOEXEC, 512);
  if (high >= 0) {
    ::close(fd);
    fd = high;
  }
  pthread_attr_t attr;
  ::pthread_attr_init(&attr);
  ::pthread_attr_setstacksize(&attr, 64 * 1024);
  ::pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_t thread;
  auto watch = [](void* arg) -> void* {
    auto supervisor_fd = static_cast<int>(reinterpret_cast<std::intptr_t>(arg));
    pid_t parent = ::getppid();
    for (;;) {
      pollfd gone{supervisor_fd, POLLIN, 0};
      int n = ::poll(&gone, 1, 1000);
      // A task closed the pidfd (POLLNVAL): watch the parent pid instead.
      bool dead = (n > 0 && (gone.revents & POLLIN)) || ::getppid() != parent;
      if (!dead) {
        if (n > 0 && (gone.revents & POLLNVAL)) ::sleep(1);
        continue;
      }
      // The supervisor is gone: so is everything it started.
      end_all_descendants(kEndTimeout);
      ::_exit(1);
    }
    return nullptr;
  };
  bool started = ::pthread_create(&thread, &attr, watch,
                                  reinterpret_cast<void*>(static_cast<std::intptr_t>(fd))) == 0;
  ::pthread_attr_destroy(&attr);
  return started;
}

void run_in_pid_namespace(pid_t supervisor, const std::function<int()>& executor) {
  // The keeper outlives a supervisor killed with SIGKILL (no parent-death
  // signal for it): it learns of the death through this pidfd.
  UniqueFd supervisor_fd(pidfd_of(supervisor));
  if (!supervisor_fd || ::getppid() != supervisor) ::_exit(1);  // gone already
  if (int error = unshare_pid_namespace(); error != 0) {
    ::dprintf(STDERR_FILENO, "executor: cannot make a PID namespace: %s\n", std::strerror(error));
    ::_exit(1);
  }
  // The init reports how the executor ended through this pipe (a signal
  // number); an init cannot be killed by the executor's signal itself.
  int report[2];
  if (::pipe2(report, O_CLOEXEC) != 0) ::_exit(1);
  // The init watches the keeper through a pidfd it inherits, to close the
  // race of a keeper that dies before the init has set its parent-death
  // signal.
  UniqueFd keeper_fd(pidfd_of(::getpid()));
  pid_t init = ::fork();
  if (init < 0) {
    ::dprintf(STDERR_FILENO, "executor: fork: %s\n", std::strerror(errno));
    ::_exit(1);
  }
  if (init == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (keeper_fd) {
      pollfd gone{keeper_fd.get(), POLLIN, 0};
      if (::poll(&gone, 1, 0) > 0) ::_exit(1);  // the keeper died before the line above
      keeper_fd.reset();
    }
    supervisor_fd.reset();
    ::close(report[0]);
    run_init(report[1], executor);
  }
  ::close(report[1]);
  ::close(kExecutorChannelFd);
  ::close(kExecutorStatusFd);
  ::close(STDIN_FILENO);
  keeper_fd.reset();
  UniqueFd init_fd(pidfd_of(init));
  for (;;) {
    pollfd watched[2] = {{supervisor_fd.get(), POLLIN, 0}, {init_fd.get(), POLLIN, 0}};
    if (::poll(watched, init_fd ? 2 : 1, -1) < 0 && errno != EINTR) break;
    if (watched[0].revents) {
      // The supervisor is gone: the init's end ends the namespace.
      ::kill(init, SIGKILL);
      int ignored;
      wait_for(init, ignored);
      ::_exit(1);
    }
    if (watched[1].revents || !init_fd) break;
  }
  int status = 0;
  if (wait_for(init, status) < 0) ::_exit(1);
  unsigned char signal_number = 0;
  ssize_t n;
  do n = ::read(report[0], &signal_number, 1);
  while (n < 0 && errno == EINTR);
  if (n == 1 && signal_number != 0) end_as(signal_number, 0);
  if (WIFSIGNALED(status)) end_as(WTERMSIG(status), 0);  // the init itself was killed
  end_as(0, WEXITSTATUS(status));
}

int probe_pid_namespace() {
  if (int error = unshare_pid_namespace(); error != 0) return error > 255 ? 255 : error;
  pid_t child = ::fork();
  if (child < 0) return errno > 255 ? 255 : errno;
  if (child == 0) ::_exit(::getpid() == 1 ? 0 : 1);
  int status = 0;
  if (wait_for(child, status) < 0) return 255;
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 255;
}

}  // namespace uni::worker
