// What keeps the processes an executor's tasks start from outliving the
// worker, even when its supervisor is killed with SIGKILL. By default the
// executor itself: a watchdog thread of its own waits on the supervisor
// (pidfd) and, when it dies, kills everything below the executor (its
// subreaper) and ends it. With --pid-namespace the process the supervisor
// starts stays outside as a keeper, with the executor as PID 2 of a PID
// namespace of its own under a minimal init that dies with the keeper; then
// the kernel ends every process in it, even if supervisor and keeper are
// killed together (docs/reliability.md §4.14).
#pragma once

#include <sys/types.h>

#include <functional>

namespace uni::worker {

// Starts the watchdog thread (a small stack, made before any address-space
// limit). Returns false if the supervisor is gone already.
bool watch_supervisor(pid_t supervisor);

// The keeper: forks the namespace's init, which forks `executor` as PID 2;
// ends them when the supervisor dies; ends the way the executor did (same
// exit code, or the same signal), so the supervisor sees no difference.
// Never returns. Call while single-threaded; exits with a message if the
// kernel refuses the namespace (the supervisor checked first with
// probe_pid_namespace()).
[[noreturn]] void run_in_pid_namespace(pid_t supervisor, const std::function<int()>& executor);

// Makes the children this process forks from now on start a new PID
// namespace: unshare(CLONE_NEWPID) where that is allowed (root), else
// together with a user namespace that maps the caller's own uid and gid.
// Call while single-threaded. Returns 0, or the errno of the last attempt.
int unshare_pid_namespace();

// `uni executor --probe-pid-namespace`: whether a namespace can be made
// here. Returns the exit code: 0 yes, else the errno of the refusal.
int probe_pid_namespace();

}  // namespace uni::worker
