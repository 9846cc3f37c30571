// unshare + fork of an executor's PID namespace, and its keeper (see
// pid_namespace.hpp). Everything here runs in a freshly exec'd, single-threaded
// `uni executor`, before any task code.
#include "worker/pid_namespace.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "worker/executor.hpp"

namespace uni::worker {

namespace {

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

// Ends this process the way `status` says another ended: the keeper stands
// for the executor, and the supervisor reads its cause of death from it.
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

void run_as_keeper(const std::function<int()>& executor) {
  // The init reports how the executor ended through this pipe (a signal
  // number); an init cannot be killed by the executor's signal itself.
  int report[2];
  if (::pipe2(report, O_CLOEXEC) != 0) {
    std::perror("executor: pipe");
    ::_exit(1);
  }
  // The init watches the keeper through a pidfd it inherits, to close the race
  // of a keeper that dies before the init has set its parent-death signal.
  int keeper = static_cast<int>(::syscall(SYS_pidfd_open, ::getpid(), 0));
  pid_t init = ::fork();
  if (init < 0) {
    std::perror("executor: fork of the namespace's init");
    ::_exit(1);
  }
  if (init == 0) {
    // PID 1 of the namespace. When it ends, the kernel kills every other
    // process in it.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (keeper >= 0) {
      pollfd gone{keeper, POLLIN, 0};
      if (::poll(&gone, 1, 0) > 0) ::_exit(1);  // the keeper died before the line above
    }
    ::close(report[0]);
    pid_t executor_pid = ::fork();
    if (executor_pid < 0) ::_exit(1);
    if (executor_pid == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      ::close(report[1]);
      if (keeper >= 0) ::close(keeper);
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
      [[maybe_unused]] ssize_t n = ::write(report[1], &signal_number, 1);
      ::_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 0);
    }
  }
  ::close(report[1]);
  ::close(kExecutorChannelFd);
  ::close(kExecutorStatusFd);
  ::close(STDIN_FILENO);
  int status = 0;
  if (wait_for(init, status) < 0) end_as(0, 1);
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
