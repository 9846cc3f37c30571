// The executor's seccomp filter and its SIGSYS handler (see seccomp_filter.hpp).
#include "worker/seccomp_filter.hpp"

#include <errno.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <memory>

namespace uni::worker {

namespace {

// Reach into another process, or into the kernel itself: no task has any
// business with these, so trying is taken for what it is and stops the task.
constexpr const char* kStopping[] = {
    "ptrace",      "process_vm_readv", "process_vm_writev",
    "pidfd_getfd", "kexec_load",       "kexec_file_load",
    "init_module", "finit_module",     "delete_module",
    "reboot",      "swapon",           "swapoff",
    "iopl",        "ioperm",           "open_by_handle_at",
};

// Privileged or namespace-changing calls that libraries probe for and do
// without: refused with EPERM, as an unprivileged process would be.
constexpr const char* kRefused[] = {
    "mount",
    "umount2",
    "pivot_root",
    "move_mount",
    "open_tree",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "mount_setattr",
    "unshare",
    "setns",
    "bpf",
    "perf_event_open",
    "keyctl",
    "add_key",
    "request_key",
    "userfaultfd",
    "acct",
    "quotactl",
    "quotactl_fd",
    "syslog",
    "name_to_handle_at",
    "fanotify_init",
    "lookup_dcookie",
    "settimeofday",
    "clock_settime",
    "clock_adjtime",
    "vhangup",
};

// si_code of a SIGSYS sent by a seccomp filter (SYS_SECCOMP in the kernel's
// headers, which glibc does not always expose).
constexpr int kSiCodeSeccomp = 1;

// The process whose denied calls are recorded, and where (record_denied_calls).
// Globals because a signal handler reads them.
std::atomic<std::atomic<std::int32_t>*> denied_slot{nullptr};
std::atomic<pid_t> recording_process{0};

void on_denied_call(int, siginfo_t* info, void*) {
  std::atomic<std::int32_t>* slot = denied_slot.load(std::memory_order_relaxed);
  if (slot && info->si_code == kSiCodeSeccomp &&
      ::getpid() == recording_process.load(std::memory_order_relaxed))
    slot->store(info->si_syscall, std::memory_order_release);
  // Die of SIGSYS, as the filter's own kill would: the supervisor reads the
  // signal and the slot.
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  ::sigaction(SIGSYS, &dfl, nullptr);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGSYS);
  ::sigprocmask(SIG_UNBLOCK, &set, nullptr);
  ::kill(::getpid(), SIGSYS);
  ::_exit(128 + SIGSYS);
}

struct ReleaseFilter {
  void operator()(void* ctx) const { seccomp_release(ctx); }
};

}  // namespace

std::string install_seccomp_filter() {
  std::unique_ptr<void, ReleaseFilter> ctx(seccomp_init(SCMP_ACT_ALLOW));
  if (!ctx) return "seccomp_init failed";
  // Another architecture's calls (int 0x80 on x86-64) are killed outright:
  // the filter below speaks this one's numbers only.
  int rc = seccomp_attr_set(ctx.get(), SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
  // A binary tree of the rules rather than a list: a call walks a few of
  // them, not all (most calls cost nothing at all: the kernel caches the
  // calls a filter always allows).
  if (rc == 0) rc = seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_OPTIMIZE, 2);
  auto add = [&](const char* name, std::uint32_t action, unsigned count,
                 const scmp_arg_cmp* args) -> int {
    int number = seccomp_syscall_resolve_name(name);
    if (number == __NR_SCMP_ERROR) return 0;  // not on this architecture
    return seccomp_rule_add_array(ctx.get(), action, number, count, args);
  };
  for (const char* name : kStopping)
    if (rc == 0) rc = add(name, SCMP_ACT_TRAP, 0, nullptr);
  for (const char* name : kRefused)
    if (rc == 0) rc = add(name, SCMP_ACT_ERRNO(EPERM), 0, nullptr);
  // New namespaces through clone: refused as unshare is. clone3 takes its
  // flags in memory a filter cannot read: ENOSYS makes the C library fall
  // back to clone, which is checked (threads and fork go on working).
  constexpr unsigned long kNamespaceFlags[] = {CLONE_NEWNS,    CLONE_NEWUTS, CLONE_NEWIPC,
                                               CLONE_NEWUSER,  CLONE_NEWPID, CLONE_NEWNET,
                                               CLONE_NEWCGROUP};
  for (unsigned long flag : kNamespaceFlags) {
    scmp_arg_cmp has_flag = SCMP_A0(SCMP_CMP_MASKED_EQ, flag, flag);
    if (rc == 0) rc = add("clone", SCMP_ACT_ERRNO(EPERM), 1, &has_flag);
  }
  if (rc == 0) rc = add("clone3", SCMP_ACT_ERRNO(ENOSYS), 0, nullptr);
  // A task must not make its executor readable to others again (executors
  // are not dumpable, so that their siblings cannot read their memory).
  scmp_arg_cmp set_dumpable = SCMP_A0(SCMP_CMP_EQ, PR_SET_DUMPABLE);
  if (rc == 0) rc = add("prctl", SCMP_ACT_ERRNO(EPERM), 1, &set_dumpable);
  if (rc != 0) return std::string("cannot build the seccomp filter: ") + std::strerror(-rc);
  rc = seccomp_load(ctx.get());
  if (rc != 0) return std::string("cannot load the seccomp filter: ") + std::strerror(-rc);
  return {};
}

void record_denied_calls(std::atomic<std::int32_t>* slot) {
  denied_slot.store(slot, std::memory_order_relaxed);
  recording_process.store(::getpid(), std::memory_order_relaxed);
  struct sigaction sa {};
  sa.sa_sigaction = &on_denied_call;
  sa.sa_flags = SA_SIGINFO;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGSYS, &sa, nullptr);
}

std::string syscall_name(int number) {
  std::unique_ptr<char, decltype(&std::free)> name(
      seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, number), &std::free);
  if (!name) return "system call " + std::to_string(number);
  return name.get();
}

}  // namespace uni::worker
