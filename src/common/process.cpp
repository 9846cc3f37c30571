// posix_spawn + pidfd process handling, and the process tree from /proc.
#include "common/process.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
// glibc 2.36's <sys/pidfd.h> lacks the extern "C" guard.
extern "C" {
#include <sys/pidfd.h>
}
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string_view>
#include <unordered_map>

extern char** environ;

namespace uni {

std::string host_name() {
  char name[256] = {};
  if (::gethostname(name, sizeof(name) - 1) != 0) return "unknown";
  return name;
}

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
  // The dup2s run in order: a source that is also an earlier target (a page
  // on fd 3 meant for 4 while the channel goes to 3) would be overwritten
  // first. Sources are moved above every target beforehand.
  int highest_target = 2;
  for (const auto& [from, to] : options.fds) highest_target = std::max(highest_target, to);
  std::vector<UniqueFd> moved;
  for (const auto& [from, to] : options.fds) {
    int source = from;
    if (source <= highest_target && source != to) {
      moved.emplace_back(::fcntl(source, F_DUPFD_CLOEXEC, highest_target + 1));
      if (moved.back()) source = moved.back().get();
    }
    posix_spawn_file_actions_adddup2(&actions, source, to);
  }
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
  for (char** e = options.inherit_env ? environ : nullptr; e && *e; ++e) {
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

void become_child_subreaper() {
  if (::prctl(PR_SET_CHILD_SUBREAPER, 1) != 0)
    throw std::runtime_error(std::string("prctl(PR_SET_CHILD_SUBREAPER): ") + ::strerror(errno));
}

namespace {

// The parent of `pid` from /proc/PID/stat, or -1. The command name (field 2)
// is in parentheses and may hold spaces or parentheses itself: the fields
// after it start after the last ')'.
pid_t parent_of(pid_t pid) {
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/%d/stat", static_cast<int>(pid));
  UniqueFd fd(::open(path, O_RDONLY | O_CLOEXEC));
  if (!fd) return -1;
  char buffer[512];
  ssize_t n = ::read(fd.get(), buffer, sizeof(buffer) - 1);
  if (n <= 0) return -1;
  buffer[n] = '\0';
  const char* close = std::strrchr(buffer, ')');
  if (!close) return -1;
  char state = 0;
  int parent = -1;
  if (std::sscanf(close + 1, " %c %d", &state, &parent) != 2) return -1;
  return static_cast<pid_t>(parent);
}

// {pid, parent} of every process in /proc.
std::vector<std::pair<pid_t, pid_t>> process_table() {
  std::vector<std::pair<pid_t, pid_t>> table;
  DIR* dir = ::opendir("/proc");
  if (!dir) return table;
  while (const dirent* entry = ::readdir(dir)) {
    char* end = nullptr;
    long pid = std::strtol(entry->d_name, &end, 10);
    if (pid <= 0 || *end != '\0') continue;
    pid_t parent = parent_of(static_cast<pid_t>(pid));
    if (parent >= 0) table.emplace_back(static_cast<pid_t>(pid), parent);
  }
  ::closedir(dir);
  return table;
}

}  // namespace

std::vector<pid_t> child_processes(pid_t parent) {
  std::vector<pid_t> children;
  for (const auto& [pid, ppid] : process_table())
    if (ppid == parent) children.push_back(pid);
  return children;
}

std::size_t kill_descendants(pid_t root) {
  std::unordered_multimap<pid_t, pid_t> children_of;
  for (const auto& [pid, ppid] : process_table()) children_of.emplace(ppid, pid);
  std::vector<pid_t> frontier{root};
  std::size_t killed = 0;
  while (!frontier.empty()) {
    pid_t parent = frontier.back();
    frontier.pop_back();
    auto [first, last] = children_of.equal_range(parent);
    for (auto it = first; it != last; ++it) {
      // Parents first: a killed parent forks no more, and its children
      // (already in the table) are next.
      if (::kill(it->second, SIGKILL) == 0) ++killed;
      frontier.push_back(it->second);
    }
  }
  return killed;
}

bool end_all_descendants(std::chrono::milliseconds timeout) {
  using Clock = std::chrono::steady_clock;
  const Clock::time_point give_up = Clock::now() + timeout;
  for (;;) {
    // A process forked after a round's signal went out is caught by the
    // next: its parent is dead, so it is our child now (we are the subreaper).
    kill_descendants(::getpid());
    const Clock::time_point round_end = Clock::now() + std::chrono::milliseconds(20);
    do {
      while (::waitpid(-1, nullptr, WNOHANG) > 0) {
      }
      siginfo_t info{};
      if (::waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) != 0) return true;  // none left
      ::usleep(200);
    } while (Clock::now() < round_end);
    if (Clock::now() >= give_up) return false;
  }
}

}  // namespace uni
