// Landlock domains for sandboxed executors (the kernel's unprivileged access
// control, ABI 1 in Linux 5.13 and later). Any domain stops its processes
// from ptrace-accessing processes outside it (the supervisor, sibling
// executors and what they started, even those that are dumpable); from ABI 6
// it also scopes signals (a task cannot kill its siblings or its supervisor).
// Strict adds a filesystem allow-list and scopes abstract unix sockets.
#pragma once

#include <string>

namespace uni::worker {

// The Landlock ABI version of the running kernel; 0 if it has none.
int landlock_abi();

// Restricts the calling thread and what it starts later. `strict`: files
// beyond the allow-list (docs/security.md §9) become unreachable. Needs
// no_new_privs. Returns "" or why not.
std::string enter_landlock_domain(bool strict, int abi);

}  // namespace uni::worker
