// posix_spawn + pidfd process handling.
#include "common/process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
// glibc 2.36's <sys/pidfd.h> lacks the extern "C" guard.
extern "C" {
#include <sys/pidfd.h>
}
#include <unistd.h>

#include <cerrno>
#include <stdexcept>
#include <string_view>

extern char** environ;

namespace uni {

std::string signal_name(int sig) {
  const char* abbrev = ::sigabbrev_np(sig);
  return abbrev ? std::string("SIG") + abbrev : "signal " + std::to_string(sig);
}

std::string ExitStatus::describe() const {
  if (signaled) return "killed by " + signal_name(code);
  return "exited with code " + std::to_string(code);
}

Process Process::spawn(const SpawnOptions& options) {
  if (options.argv.empty()) throw std::runtime_error("spawn: empty argv");
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&actions);
  posix_spawnattr_init(&attr);
  for (const auto& [from, to] : options.fds) posix_spawn_file_actions_adddup2(&actions, from, to);
  if (options.stdin_null) posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);

  sigset_t all, none;
  sigfillset(&all);
  sigemptyset(&none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setsigmask(&attr, &none);
  short flags = POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK;
  if (options.new_process_group) {
    flags |= POSIX_SPAWN_SETPGROUP;
    posix_spawnattr_setpgroup(&attr, 0);
  }
  posix_spawnattr_setflags(&attr, flags);

  std::vector<char*> argv;
  for (const auto& a : options.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  // options.env entries replace inherited ones of the same name.
  auto name_of = [](std::string_view entry) { return entry.substr(0, entry.find('=') + 1); };
  std::vector<char*> envp;
  for (char** e = environ; *e; ++e) {
    bool replaced = false;
    for (const auto& mine : options.env) replaced |= name_of(mine) == name_of(*e);
    if (!replaced) envp.push_back(*e);
  }
  for (const auto& e : options.env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);

  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, argv[0], &actions, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) throw std::runtime_error("cannot start " + options.argv[0] + ": " + ::strerror(rc));

  Process process;
  process.pid_ = pid;
  process.pidfd_.reset(::pidfd_open(pid, 0));
  if (!process.pidfd_) {
    int saved = errno;
    process.kill_and_reap();
    throw std::runtime_error(std::string("pidfd_open: ") + ::strerror(saved));
  }
  return process;
}

Process& Process::operator=(Process&& other) noexcept {
  if (this != &other) {
    kill_and_reap();
    pid_ = std::exchange(other.pid_, -1);
    pidfd_ = std::move(other.pidfd_);
    status_ = std::move(other.status_);
  }
  return *this;
}

Process::~Process() { kill_and_reap(); }

void Process::signal(int sig) const {
  if (running()) ::pidfd_send_signal(pidfd_.get(), sig, nullptr, 0);
}

namespace {
std::optional<ExitStatus> reap(int pidfd, int options) {
  siginfo_t info{};
  for (;;) {
    if (::waitid(P_PIDFD, static_cast<id_t>(pidfd), &info, WEXITED | options) == 0) break;
    if (errno != EINTR) return ExitStatus{false, -1};  // already reaped elsewhere
  }
  if (info.si_pid == 0) return std::nullopt;  // WNOHANG and still running
  bool signaled = info.si_code == CLD_KILLED || info.si_code == CLD_DUMPED;
  return ExitStatus{signaled, info.si_status};
}
}  // namespace

std::optional<ExitStatus> Process::try_wait() {
  if (status_ || pid_ <= 0) return status_;
  status_ = reap(pidfd_.get(), WNOHANG);
  return status_;
}

ExitStatus Process::wait() {
  if (!status_ && pid_ > 0) status_ = reap(pidfd_.get(), 0);
  return status_.value_or(ExitStatus{false, -1});
}

void Process::kill_and_reap() {
  if (pid_ > 0 && !status_) {
    ::pidfd_send_signal(pidfd_.get(), SIGKILL, nullptr, 0);
    wait();
  }
  pid_ = -1;
  pidfd_.reset();
}

}  // namespace uni
