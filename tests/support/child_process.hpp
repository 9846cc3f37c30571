// ChildProcess: one real process of a test, started with posix_spawn (through
// the project's uni::Process) as the leader of its own process group, with
// stdout and stderr going to files. Killing it kills its group and all its
// descendants, so a worker's executors or `uni up`'s workers go with it. The
// destructor does that with SIGKILL and reaps the leader: a failing test
// leaves nothing running.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/process.hpp"

namespace uni::test {

using ExitStatus = uni::ExitStatus;

struct ChildOptions {
  std::vector<std::string> argv;          // argv[0]: the program's path
  std::vector<std::string> env;           // NAME=VALUE, replacing an inherited NAME
  std::filesystem::path output_dir;       // <name>.N.stdout / .stderr are created here
  std::string name = "child";             // a readable stem for those files
  std::optional<std::string> stdin_text;  // written to a file and given as stdin; else /dev/null
};

class ChildProcess {
 public:
  ChildProcess();
  // Throws std::runtime_error if the program cannot be started.
  static ChildProcess start(const ChildOptions& options);

  ChildProcess(ChildProcess&&) noexcept;
  ChildProcess& operator=(ChildProcess&&) noexcept;
  ~ChildProcess();

  bool valid() const { return state_ != nullptr; }
  pid_t pid() const;
  // True until the leader has ended (reaps it if it has).
  bool running();

  // Sends `sig` to every process of processes(): the leader, its group, and
  // all its descendants.
  void kill(int sig = SIGKILL);
  // Sends `sig` to the leader only.
  void signal(int sig);

  // The exit status once the leader has ended, waiting at most `timeout`.
  std::optional<ExitStatus> wait_for(std::chrono::milliseconds timeout);
  // The exit status, if the leader has ended already (never blocks).
  std::optional<ExitStatus> status();

  // SIGTERM to the leader, then SIGKILL to the group if it has not ended
  // within `grace`. Returns how it ended.
  ExitStatus stop(std::chrono::milliseconds grace = std::chrono::seconds(5));

  std::string read_stdout() const;
  std::string read_stderr() const;
  const std::filesystem::path& stdout_path() const;
  const std::filesystem::path& stderr_path() const;

  // Polls stdout (or stderr) until it contains `text`. False if the timeout
  // passes or the process ends without printing it.
  bool wait_for_stdout(const std::string& text, std::chrono::milliseconds timeout);
  bool wait_for_stderr(const std::string& text, std::chrono::milliseconds timeout);

  // Live (not zombie) processes this child stands for: its process group and
  // every descendant of the leader (a worker's executors run in process
  // groups of their own). Empty once the leader has ended and been reaped,
  // except for members of its group.
  std::vector<pid_t> processes() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// Live (not zombie) processes whose process group is `pgid`, read from /proc.
std::vector<pid_t> live_processes_in_group(pid_t pgid);
// Live descendants of `pid` (children, their children, ...), read from /proc.
std::vector<pid_t> live_descendants(pid_t pid);
// Waits until none of `pids` is alive; false on timeout.
bool wait_processes_gone(const std::vector<pid_t>& pids, std::chrono::milliseconds timeout);
// Whether `pid` exists and is not a zombie.
bool process_alive(pid_t pid);
// The parent of `pid` (from /proc), or -1 if it does not exist.
pid_t parent_pid(pid_t pid);

// A readable description for assertion messages.
std::string describe(const std::optional<ExitStatus>& status);

}  // namespace uni::test
