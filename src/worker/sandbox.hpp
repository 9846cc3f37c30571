// The sandbox executors run tasks in (--sandbox off|default|strict;
// docs/security.md §9 says what each layer gives, as root and not). The
// supervisor starts executors with a scrubbed environment and the paths
// tasks must not reach; the executor, before any task code, closes stray
// descriptors, enters its namespaces (mount: key files, the config dir and
// the module cache hidden; strict: a network of its own with loopback only),
// then locks itself down: not dumpable, capabilities dropped, no_new_privs,
// a Landlock domain, the seccomp filter (seccomp_filter.hpp). Layers the
// kernel or the user's privileges do not allow are left out under `default`
// (the worker logs what holds); `strict` refuses to run without all of them.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace uni::worker {

enum class SandboxLevel { kOff, kDefault, kStrict };
const char* sandbox_level_name(SandboxLevel level);  // "off", "default", "strict"
std::optional<SandboxLevel> sandbox_level_from_name(std::string_view name);

struct SandboxOptions {
  SandboxLevel level = SandboxLevel::kDefault;
  // Files and directories tasks must neither read nor write: the config dir
  // (authkey, derived keys), key files named on the command line, the module
  // cache. Hidden where a mount namespace can be had.
  std::vector<std::string> hidden;
};

// ---- supervisor side ----

// Whether an environment variable is withheld from sandboxed executors:
// every UNI_* variable, and names that speak of credentials (…SECRET…,
// …TOKEN…, …PASSWORD…, …CREDENTIAL…, …_KEY, SSH_AUTH_SOCK, ...).
bool is_withheld_variable(std::string_view name);

// The worker's environment without the withheld variables (NAME=VALUE).
std::vector<std::string> scrubbed_environment();

// Runs `program executor --probe-sandbox ...` (program: the uni binary),
// which applies the sandbox to itself and says what held. Returns that, one
// line for the log. Throws std::runtime_error if the executor cannot be
// sandboxed as asked (strict without one of its layers).
std::string probe_sandbox(const std::string& program, const SandboxOptions& options);

// The executor's command-line flags for `options`.
std::vector<std::string> sandbox_flags(const SandboxOptions& options);

// What a probe executor said: `program executor <probe> <sandbox flags>`
// run to its end with environment `env` only, its stdout (and stderr, with
// `with_stderr`) read whole, trailing blanks cut. Throws std::runtime_error
// if no pipe can be made.
struct ProbeOutput {
  std::string said;
  bool ok = false;  // exited with code 0
  std::string how;  // how it ended ("exited with code 3", ...)
};
ProbeOutput run_probe(const std::string& program, const std::string& probe,
                      const SandboxOptions& options, const std::vector<std::string>& env,
                      bool with_stderr);

// Makes this process not dumpable: its memory, environment and descriptors
// are then out of reach of other processes of its user (ptrace,
// /proc/PID/mem, /proc/PID/environ) unless they hold CAP_SYS_PTRACE.
void make_undumpable();

// ---- executor side ----

// What came of applying the sandbox: the layers that hold, those missing
// and why.
struct SandboxReport {
  std::vector<std::string> holds;
  std::vector<std::string> missing;
  bool mount_namespace = false, user_namespace = false, network_namespace = false;
  bool hidden_all = false;  // every path asked for is hidden
  bool no_new_privs = false, landlock = false, seccomp = false;
  std::string text() const;  // "seccomp, no_new_privs, ...; missing: ..."
};

// Step 1, first thing in a freshly started executor, while it has one
// thread: closes descriptors above `last_kept_fd`, enters the namespaces and
// hides the paths.
void enter_sandbox(const SandboxOptions& options, int last_kept_fd, SandboxReport& report);

// Step 2, after step 1 and any namespace of its own (--pid-namespace), still
// with one thread, before any task code: the lock-down.
void lock_down(const SandboxOptions& options, SandboxReport& report);

// Whether the report has what the level requires (strict: every layer).
bool sandbox_complete(const SandboxOptions& options, const SandboxReport& report);

}  // namespace uni::worker
