// An executor in a PID namespace of its own, so that no process a task starts
// can outlive the executor or the worker, even after a SIGKILL. The process
// the supervisor starts stays outside as the keeper; inside run a minimal
// init (PID 1) and the executor proper (PID 2). The kernel kills every process
// of a namespace when its init ends, and the init ends when the executor ends
// or when the keeper dies (PR_SET_PDEATHSIG), which it does with the
// supervisor. Unprivileged, the namespace comes with a user namespace that
// maps the caller's own uid and gid (docs/reliability.md §4.14).
#pragma once

#include <functional>

namespace uni::worker {

// `uni worker --pid-namespace`: off; auto (the default: where the kernel
// allows one, else without); on (the worker refuses to start without).
enum class PidNamespaceUse { kOff, kAuto, kOn };

// Makes the children this process forks from now on start a new PID
// namespace: unshare(CLONE_NEWPID) where that is allowed (root), else
// together with a user namespace. Call while single-threaded. Returns 0, or
// the errno of the last attempt (nothing changed then).
int unshare_pid_namespace();

// After unshare_pid_namespace(): forks the namespace's init, which forks
// `executor` as PID 2 and ends when it ends. This process (the keeper) closes
// fds 3 and 4, waits, and ends the way the executor did: same exit code, or
// killed by the same signal. Never returns.
[[noreturn]] void run_as_keeper(const std::function<int()>& executor);

// `uni executor --probe-pid-namespace`: whether a namespace can be made
// here. Returns the exit code: 0 yes, else the errno of the refusal.
int probe_pid_namespace();

}  // namespace uni::worker
