// ChildProcess: spawning, group signals, waiting with timeouts, output files.
#include "child_process.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <thread>

#include "temp_dir.hpp"

namespace uni::test {

namespace {

std::atomic<unsigned> g_counter{0};

struct Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) {}
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

int open_or_throw(const std::filesystem::path& path, int flags) {
  int fd = ::open(path.c_str(), flags | O_CLOEXEC, 0600);
  if (fd < 0)
    throw std::runtime_error("cannot open " + path.string() + ": " + std::strerror(errno));
  return fd;
}

// Field 3 (state) and 5 (pgrp) of /proc/PID/stat; the command name (field 2)
// may hold spaces and parentheses, so parse after its last ')'.
bool read_stat(pid_t pid, char& state, pid_t& pgrp, pid_t* parent = nullptr) {
  std::string text = read_text("/proc/" + std::to_string(pid) + "/stat");
  std::size_t close = text.rfind(')');
  if (close == std::string::npos || close + 2 >= text.size()) return false;
  int ppid = 0, group = 0;
  if (std::sscanf(text.c_str() + close + 2, "%c %d %d", &state, &ppid, &group) != 3) return false;
  pgrp = group;
  if (parent) *parent = ppid;
  return true;
}

}  // namespace

struct ChildProcess::State {
  uni::Process process;
  pid_t pid = -1;
  std::filesystem::path out, err;
};

ChildProcess ChildProcess::start(const ChildOptions& options) {
  unsigned n = ++g_counter;
  std::string stem = options.name + "." + std::to_string(n);
  auto state = std::make_unique<State>();
  state->out = options.output_dir / (stem + ".stdout");
  state->err = options.output_dir / (stem + ".stderr");
  // O_CLOEXEC on our side; the child gets dup2'ed copies, which are inherited.
  Fd out(open_or_throw(state->out, O_WRONLY | O_CREAT | O_TRUNC));
  Fd err(open_or_throw(state->err, O_WRONLY | O_CREAT | O_TRUNC));
  std::optional<Fd> in;
  uni::SpawnOptions spawn;
  spawn.argv = options.argv;
  spawn.env = options.env;
  spawn.new_process_group = true;
  spawn.fds = {{out.fd, 1}, {err.fd, 2}};
  if (options.stdin_text) {
    std::filesystem::path input = options.output_dir / (stem + ".stdin");
    {
      Fd w(open_or_throw(input, O_WRONLY | O_CREAT | O_TRUNC));
      std::size_t done = 0;
      while (done < options.stdin_text->size()) {
        ssize_t k =
            ::write(w.fd, options.stdin_text->data() + done, options.stdin_text->size() - done);
        if (k <= 0) throw std::runtime_error("cannot write " + input.string());
        done += static_cast<std::size_t>(k);
      }
    }
    in.emplace(open_or_throw(input, O_RDONLY));
    spawn.fds.push_back({in->fd, 0});
  } else {
    spawn.stdin_null = true;
  }
  state->process = uni::Process::spawn(spawn);
  state->pid = state->process.pid();
  ChildProcess child;
  child.state_ = std::move(state);
  return child;
}

ChildProcess::ChildProcess() = default;
ChildProcess::ChildProcess(ChildProcess&&) noexcept = default;

ChildProcess& ChildProcess::operator=(ChildProcess&& other) noexcept {
  if (this != &other) {
    if (state_) kill(SIGKILL);
    state_ = std::move(other.state_);
  }
  return *this;
}

ChildProcess::~ChildProcess() {
  // The whole group, even if the leader has ended: orphaned executors or
  // workers must not outlive the test. uni::Process then reaps the leader.
  if (state_) kill(SIGKILL);
}

pid_t ChildProcess::pid() const { return state_ ? state_->pid : -1; }

bool ChildProcess::running() { return state_ && !state_->process.try_wait(); }

void ChildProcess::kill(int sig) {
  if (!state_ || state_->pid <= 0) return;
  // Descendants first found, then signalled: once the leader is gone its
  // children are reparented and no longer found through it.
  std::vector<pid_t> others = live_descendants(state_->pid);
  ::kill(-state_->pid, sig);
  for (pid_t p : others) ::kill(p, sig);
}

void ChildProcess::signal(int sig) {
  if (running()) ::kill(state_->pid, sig);
}

std::optional<ExitStatus> ChildProcess::status() {
  if (!state_) return std::nullopt;
  return state_->process.try_wait();
}

std::optional<ExitStatus> ChildProcess::wait_for(std::chrono::milliseconds timeout) {
  if (!state_) return std::nullopt;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (auto s = state_->process.try_wait()) return s;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    pollfd p{state_->process.pidfd(), POLLIN, 0};
    ::poll(&p, 1, static_cast<int>(std::min<long>(left.count(), 1000)));
  }
}

ExitStatus ChildProcess::stop(std::chrono::milliseconds grace) {
  signal(SIGTERM);
  if (auto s = wait_for(grace)) return *s;
  kill(SIGKILL);
  return wait_for(std::chrono::seconds(10)).value_or(ExitStatus{false, -1});
}

std::string ChildProcess::read_stdout() const { return state_ ? read_text(state_->out) : ""; }
std::string ChildProcess::read_stderr() const { return state_ ? read_text(state_->err) : ""; }
const std::filesystem::path& ChildProcess::stdout_path() const { return state_->out; }
const std::filesystem::path& ChildProcess::stderr_path() const { return state_->err; }

namespace {
template <class Read>
bool poll_output(ChildProcess& child, const std::string& text, std::chrono::milliseconds timeout,
                 Read read) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    bool ended = !child.running();
    if (read().find(text) != std::string::npos) return true;
    if (ended || std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}
}  // namespace

bool ChildProcess::wait_for_stdout(const std::string& text, std::chrono::milliseconds timeout) {
  return poll_output(*this, text, timeout, [&] { return read_stdout(); });
}

bool ChildProcess::wait_for_stderr(const std::string& text, std::chrono::milliseconds timeout) {
  return poll_output(*this, text, timeout, [&] { return read_stderr(); });
}

std::vector<pid_t> ChildProcess::processes() const {
  if (!state_) return {};
  std::vector<pid_t> out = live_processes_in_group(state_->pid);
  for (pid_t p : live_descendants(state_->pid))
    if (std::find(out.begin(), out.end(), p) == out.end()) out.push_back(p);
  return out;
}

std::vector<pid_t> live_processes_in_group(pid_t pgid) {
  std::vector<pid_t> out;
  DIR* d = ::opendir("/proc");
  if (!d) return out;
  while (dirent* e = ::readdir(d)) {
    char* end = nullptr;
    long pid = std::strtol(e->d_name, &end, 10);
    if (pid <= 0 || *end != '\0') continue;
    char state = 0;
    pid_t group = 0;
    if (read_stat(static_cast<pid_t>(pid), state, group) && group == pgid && state != 'Z' &&
        state != 'X')
      out.push_back(static_cast<pid_t>(pid));
  }
  ::closedir(d);
  return out;
}

std::vector<pid_t> live_descendants(pid_t root) {
  std::vector<std::pair<pid_t, pid_t>> parent_of;  // {pid, ppid} of every live process
  DIR* d = ::opendir("/proc");
  if (!d) return {};
  while (dirent* e = ::readdir(d)) {
    char* end = nullptr;
    long pid = std::strtol(e->d_name, &end, 10);
    if (pid <= 0 || *end != '\0') continue;
    char state = 0;
    pid_t group = 0, parent = 0;
    if (read_stat(static_cast<pid_t>(pid), state, group, &parent) && state != 'Z' && state != 'X')
      parent_of.emplace_back(static_cast<pid_t>(pid), parent);
  }
  ::closedir(d);
  std::vector<pid_t> out;
  std::vector<pid_t> frontier = {root};
  while (!frontier.empty()) {
    pid_t p = frontier.back();
    frontier.pop_back();
    for (const auto& [child, parent] : parent_of)
      if (parent == p) {
        out.push_back(child);
        frontier.push_back(child);
      }
  }
  return out;
}

bool wait_processes_gone(const std::vector<pid_t>& pids, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    bool any = false;
    for (pid_t p : pids) any |= process_alive(p);
    if (!any) return true;
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

bool process_alive(pid_t pid) {
  char state = 0;
  pid_t group = 0;
  return read_stat(pid, state, group) && state != 'Z' && state != 'X';
}

pid_t parent_pid(pid_t pid) {
  char state = 0;
  pid_t group = 0, parent = -1;
  return read_stat(pid, state, group, &parent) ? parent : -1;
}

std::string describe(const std::optional<ExitStatus>& status) {
  return status ? status->describe() : "still running";
}

}  // namespace uni::test
