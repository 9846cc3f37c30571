// Ending what a task left running (see task_processes.hpp).
#include "worker/task_processes.hpp"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <thread>

#include "common/process.hpp"

namespace uni::worker {

namespace {

// Whether this process has a child, running or ended and not yet reaped.
bool has_children() {
  siginfo_t info{};
  return ::waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) == 0;
}

void reap_ended() {
  while (::waitpid(-1, nullptr, WNOHANG) > 0) {
  }
}

}  // namespace

TaskProcesses::TaskProcesses(bool own_pid_namespace) : own_pid_namespace_(own_pid_namespace) {
  // kill(-1) outside a namespace of our own would reach every process of the
  // user, and /proc inside one names processes by pids this namespace does
  // not use: neither way is safe unless this is the namespace's PID 2.
  if (own_pid_namespace_ && (::getpid() != 2 || ::getppid() != 1))
    throw std::runtime_error("executor: not PID 2 of a PID namespace of its own");
  become_child_subreaper();
}

void TaskProcesses::end_all() {
  if (!has_children()) return;
  if (!own_pid_namespace_) {
    if (end_all_descendants(std::chrono::seconds(2))) return;
  } else {
    using Clock = std::chrono::steady_clock;
    const Clock::time_point give_up = Clock::now() + std::chrono::seconds(2);
    while (Clock::now() < give_up) {
      // Everything in the namespace but its init and this executor.
      ::kill(-1, SIGKILL);
      const Clock::time_point round_end = Clock::now() + std::chrono::milliseconds(20);
      do {
        reap_ended();
        if (!has_children()) return;
        std::this_thread::sleep_for(std::chrono::microseconds(200));
      } while (Clock::now() < round_end);
    }
  }
  // Straight to fd 2: stderr is the task output capture.
  ::dprintf(STDERR_FILENO,
            "executor: processes a task started did not end within 2 s of SIGKILL\n");
}

}  // namespace uni::worker
