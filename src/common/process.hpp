// Child processes: started with posix_spawn (safe from a process that holds a
// ZeroMQ context, unlike a bare fork), watched through a pidfd that a poll
// loop can wait on, killed and reaped when their owner lets go of them; and
// the process tree below this one, read from /proc, to end what others left.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/unique_fd.hpp"

namespace uni {

// How a process ended, in words a user reads ("killed by SIGSEGV").
struct ExitStatus {
  bool signaled = false;
  int code = 0;  // exit code, or signal number when signaled
  std::string describe() const;
};

std::string signal_name(int signal);  // 11 -> "SIGSEGV"

// This machine's host name, or "unknown".
std::string host_name();

struct SpawnOptions {
  std::vector<std::string> argv;         // argv[0] is the program path
  std::vector<std::pair<int, int>> fds;  // {fd in this process, fd number in the child}
  std::vector<std::string> env;          // NAME=VALUE, replacing inherited NAME
  bool inherit_env = true;               // false: `env` is the whole environment
  bool new_process_group = false;
  bool stdin_null = false;  // stdin from /dev/null
};

class Process {
 public:
  Process() = default;
  // Starts the program. Throws std::runtime_error naming it on failure. The
  // child starts with default signal dispositions and an empty signal mask.
  static Process spawn(const SpawnOptions& options);

  Process(Process&&) noexcept = default;
  Process& operator=(Process&& other) noexcept;
  ~Process();  // a child still running is killed (SIGKILL) and reaped

  pid_t pid() const { return pid_; }
  int pidfd() const { return pidfd_.get(); }  // readable once the child has ended
  bool running() const { return pid_ > 0 && !status_; }

  void signal(int sig) const;
  std::optional<ExitStatus> try_wait();  // reaps if ended, never blocks
  ExitStatus wait();                     // blocks until it ends

 private:
  void kill_and_reap();
  pid_t pid_ = -1;
  UniqueFd pidfd_;
  std::optional<ExitStatus> status_;
};

// Makes this process the reaper of its orphaned descendants
// (PR_SET_CHILD_SUBREAPER): a process that a descendant double-forks or
// detaches with setsid becomes this process's child when its parent dies,
// instead of init's, so it cannot leave this process's tree. Throws
// std::runtime_error if the kernel refuses.
void become_child_subreaper();

// Children of `parent`, living or zombie, read from /proc (one scan of it).
std::vector<pid_t> child_processes(pid_t parent);

// Sends SIGKILL to every descendant of `root` (not to `root`), found in one
// scan of /proc. Returns how many were signalled. A descendant forked after
// the scan escapes this round: call it until child_processes() comes back
// empty, reaping in between (a subreaper gets the orphans of those killed).
std::size_t kill_descendants(pid_t root);

// Kills every descendant of this process and reaps its children until it
// has none left, or `timeout` has passed (a process in uninterruptible sleep
// dies only when the sleep ends). Call from a child subreaper, to which the
// orphans of those killed come back. Returns whether none is left.
bool end_all_descendants(std::chrono::milliseconds timeout);

}  // namespace uni
