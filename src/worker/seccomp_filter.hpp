// The seccomp filter of sandboxed executors (libseccomp): which system calls
// a task may not make, and what it gets when it tries. Calls that reach into
// other processes or the kernel (ptrace, process_vm_readv, module loading,
// kexec, ...) stop the task: the executor dies of SIGSYS after recording the
// call on its status page, and the supervisor fails the task with "sandbox:
// NAME denied". Calls that ordinary libraries probe and cope without (mount,
// unshare, bpf, perf_event_open, keyctl, ...) fail with EPERM instead. The
// list and the choice per call are in docs/security.md §9.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

namespace uni::worker {

// Installs the filter on the calling thread (and what it starts later).
// No_new_privs must be set. Returns "" or why it could not be installed.
std::string install_seccomp_filter();

// Catches the SIGSYS of a denied call: stores the call's number in *slot
// (a word of the shared status page) and ends the process by that signal.
// Only the process that called this records; its children (a task's forks)
// die of SIGSYS without touching the slot.
void record_denied_calls(std::atomic<std::int32_t>* slot);

// "ptrace" for the number of ptrace on this architecture, else "system call N".
std::string syscall_name(int number);

}  // namespace uni::worker
