// The executor sandbox: the supervisor's part (environment, probe, flags) and
// the executor's (namespaces, hidden paths, lock-down). See sandbox.hpp.
#include "worker/sandbox.hpp"

#include <fcntl.h>
#include <linux/capability.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include "common/process.hpp"
#include "common/unique_fd.hpp"
#include "worker/landlock.hpp"
#include "worker/seccomp_filter.hpp"

extern char** environ;

namespace uni::worker {

const char* sandbox_level_name(SandboxLevel level) {
  switch (level) {
    case SandboxLevel::kOff: return "off";
    case SandboxLevel::kDefault: return "default";
    case SandboxLevel::kStrict: return "strict";
  }
  return "default";
}

std::optional<SandboxLevel> sandbox_level_from_name(std::string_view name) {
  for (SandboxLevel level : {SandboxLevel::kOff, SandboxLevel::kDefault, SandboxLevel::kStrict})
    if (name == sandbox_level_name(level)) return level;
  return std::nullopt;
}

// ---- supervisor side ---------------------------------------------------------------------

bool is_withheld_variable(std::string_view name) {
  if (name.starts_with("UNI_")) return true;
  for (std::string_view exact : {"SSH_AUTH_SOCK", "SSH_AGENT_PID", "GPG_AGENT_INFO", "KRB5CCNAME"})
    if (name == exact) return true;
  std::string upper(name);
  std::transform(upper.begin(), upper.end(), upper.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  for (std::string_view word :
       {"SECRET", "TOKEN", "PASSWORD", "PASSWD", "PASSPHRASE", "CREDENTIAL", "CREDS", "AUTHKEY",
        "APIKEY", "API_KEY", "ACCESS_KEY", "PRIVATE_KEY"})
    if (upper.find(word) != std::string::npos) return true;
  return upper.ends_with("_KEY");
}

std::vector<std::string> scrubbed_environment() {
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) {
    std::string_view entry(*e);
    if (!is_withheld_variable(entry.substr(0, entry.find('=')))) env.emplace_back(entry);
  }
  return env;
}

std::vector<std::string> sandbox_flags(const SandboxOptions& options) {
  std::vector<std::string> flags = {"--sandbox", sandbox_level_name(options.level)};
  for (const std::string& path : options.hidden) flags.insert(flags.end(), {"--hide", path});
  return flags;
}

ProbeOutput run_probe(const std::string& program, const std::string& probe,
                      const SandboxOptions& options, const std::vector<std::string>& env,
                      bool with_stderr) {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0)
    throw std::runtime_error("cannot run " + probe + ": pipe: " + std::strerror(errno));
  UniqueFd read_end(pipe_fds[0]), write_end(pipe_fds[1]);
  SpawnOptions spawn;
  spawn.argv = {program, "executor", probe};
  for (std::string& flag : sandbox_flags(options)) spawn.argv.push_back(std::move(flag));
  spawn.fds = {{write_end.get(), 1}};
  if (with_stderr) spawn.fds.push_back({write_end.get(), 2});
  spawn.env = env;
  spawn.inherit_env = false;
  spawn.stdin_null = true;
  Process process = Process::spawn(spawn);
  write_end.reset();
  ProbeOutput out;
  char chunk[4096];
  for (;;) {
    ssize_t n = ::read(read_end.get(), chunk, sizeof(chunk));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.said.append(chunk, static_cast<std::size_t>(n));
  }
  ExitStatus status = process.wait();
  while (!out.said.empty() && std::isspace(static_cast<unsigned char>(out.said.back())))
    out.said.pop_back();
  out.ok = !status.signaled && status.code == 0;
  out.how = status.describe();
  return out;
}

std::string probe_sandbox(const std::string& program, const SandboxOptions& options) {
  ProbeOutput probe = run_probe(program, "--probe-sandbox", options, scrubbed_environment(), true);
  if (!probe.ok)
    throw std::runtime_error(
        "--sandbox " + std::string(sandbox_level_name(options.level)) +
        " is not available here: " + (probe.said.empty() ? "the probe " + probe.how : probe.said));
  return probe.said;
}

void make_undumpable() { ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0); }

// ---- executor side -----------------------------------------------------------------------

std::string SandboxReport::text() const {
  std::string out;
  for (const std::string& layer : holds) out += (out.empty() ? "" : ", ") + layer;
  if (!missing.empty()) {
    out += out.empty() ? "missing: " : "; missing: ";
    for (std::size_t i = 0; i < missing.size(); ++i) out += (i ? "; " : "") + missing[i];
  }
  return out;
}

namespace {

std::string error_text(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

bool write_text(const char* path, const std::string& text) {
  UniqueFd fd(::open(path, O_WRONLY | O_CLOEXEC));
  return fd && ::write(fd.get(), text.data(), text.size()) == static_cast<ssize_t>(text.size());
}

void close_stray_descriptors(int last_kept_fd) {
  if (::syscall(SYS_close_range, last_kept_fd + 1, ~0u, 0) == 0) return;
  long limit = ::sysconf(_SC_OPEN_MAX);
  for (long fd = last_kept_fd + 1; fd < (limit > 0 ? limit : 1024); ++fd)
    ::close(static_cast<int>(fd));
}

// The flags a remount must keep: in a user namespace the kernel refuses to
// clear those of the mount the bind came from.
unsigned long mount_flags_of(const char* path) {
  struct statvfs vfs {};
  if (::statvfs(path, &vfs) != 0) return 0;
  unsigned long flags = 0;
  if (vfs.f_flag & ST_NOSUID) flags |= MS_NOSUID;
  if (vfs.f_flag & ST_NODEV) flags |= MS_NODEV;
  if (vfs.f_flag & ST_NOEXEC) flags |= MS_NOEXEC;
  if (vfs.f_flag & ST_NOATIME) flags |= MS_NOATIME;
  if (vfs.f_flag & ST_NODIRATIME) flags |= MS_NODIRATIME;
  if (vfs.f_flag & ST_RELATIME) flags |= MS_RELATIME;
  return flags;
}

// A directory becomes an empty read-only tmpfs, a file /dev/null read-only.
std::string hide(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return {};  // nothing there (or under a hidden parent)
  if (S_ISDIR(st.st_mode)) {
    if (::mount("uni-hidden", path.c_str(), "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                "size=4k,nr_inodes=1,mode=000") != 0)
      return error_text(("cannot hide " + path).c_str());
    return {};
  }
  if (::mount("/dev/null", path.c_str(), nullptr, MS_BIND, nullptr) != 0 ||
      ::mount(nullptr, path.c_str(), nullptr,
              MS_REMOUNT | MS_BIND | MS_RDONLY | mount_flags_of(path.c_str()), nullptr) != 0)
    return error_text(("cannot hide " + path).c_str());
  return {};
}

bool bring_up_loopback() {
  UniqueFd fd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!fd) return false;
  ifreq request{};
  std::strncpy(request.ifr_name, "lo", IFNAMSIZ - 1);
  if (::ioctl(fd.get(), SIOCGIFFLAGS, &request) != 0) return false;
  request.ifr_flags |= IFF_UP | IFF_RUNNING;
  return ::ioctl(fd.get(), SIOCSIFFLAGS, &request) == 0;
}

// Root's capabilities that tasks keep when the worker runs as root outside
// a user namespace (Docker's default set, less CAP_MKNOD and CAP_SETPCAP).
// Every other one goes, from the bounding set too; CAP_SYS_PTRACE first of
// all: without it the non-dumpable supervisor and siblings, and every root
// process holding more capabilities than a task, are out of its reach.
constexpr int kRootKeeps[] = {CAP_CHOWN,   CAP_DAC_OVERRIDE, CAP_FOWNER,      CAP_FSETID,
                              CAP_KILL,    CAP_SETGID,       CAP_SETUID,      CAP_NET_BIND_SERVICE,
                              CAP_NET_RAW, CAP_SYS_CHROOT,   CAP_AUDIT_WRITE, CAP_SETFCAP};

std::string drop_capabilities(bool keep_roots) {
  std::uint64_t keep = 0;
  if (keep_roots)
    for (int cap : kRootKeeps) keep |= 1ull << cap;
  int last = CAP_LAST_CAP;
  if (FILE* f = std::fopen("/proc/sys/kernel/cap_last_cap", "re")) {
    if (std::fscanf(f, "%d", &last) != 1) last = CAP_LAST_CAP;
    std::fclose(f);
  }
  for (int cap = 0; cap <= last && cap < 64; ++cap)
    if (!(keep & (1ull << cap))) ::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0);  // needs CAP_SETPCAP
  ::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (::syscall(SYS_capget, &header, data) != 0) return error_text("capget");
  for (int i = 0; i < 2; ++i) {
    auto mask = static_cast<std::uint32_t>(keep >> (32 * i));
    data[i].effective &= mask;
    data[i].permitted &= mask;
    data[i].inheritable = 0;
  }
  if (::syscall(SYS_capset, &header, data) != 0) return error_text("capset");
  return {};
}

}  // namespace

void enter_sandbox(const SandboxOptions& options, int last_kept_fd, SandboxReport& report) {
  if (options.level == SandboxLevel::kOff) return;
  close_stray_descriptors(last_kept_fd);
  const bool strict = options.level == SandboxLevel::kStrict;
  // Resolved before anything is hidden: a path under a hidden directory is
  // hidden with it, and then no longer resolves.
  std::vector<std::string> hidden;
  for (const std::string& path : options.hidden)
    if (char* real = ::realpath(path.c_str(), nullptr)) {
      hidden.emplace_back(real);
      std::free(real);
    }
  char cwd[PATH_MAX];
  bool have_cwd = ::getcwd(cwd, sizeof(cwd)) != nullptr;

  const int flags = CLONE_NEWNS | (strict ? CLONE_NEWNET : 0);
  const uid_t uid = ::geteuid();
  const gid_t gid = ::getegid();
  std::string refusal;
  if (::unshare(flags) == 0) {
    report.mount_namespace = true;
  } else {
    refusal = std::strerror(errno);
    // Unprivileged: a user namespace gives the capabilities for the others.
    // It maps this user to itself, so that files look the same to tasks.
    if (::unshare(CLONE_NEWUSER | flags) == 0 && write_text("/proc/self/setgroups", "deny") &&
        write_text("/proc/self/uid_map", std::to_string(uid) + " " + std::to_string(uid) + " 1") &&
        write_text("/proc/self/gid_map", std::to_string(gid) + " " + std::to_string(gid) + " 1")) {
      report.mount_namespace = report.user_namespace = true;
    } else {
      refusal += std::string(", and no user namespace either: ") + std::strerror(errno);
    }
  }
  if (!report.mount_namespace) {
    report.missing.push_back("mount namespace (" + refusal +
                             "): tasks can read the config dir and the module cache");
    if (strict) report.missing.push_back("network namespace (needs the same)");
    return;
  }
  // Nothing done here may propagate to the mounts of the rest of the system.
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_SLAVE, nullptr) != 0) {
    report.missing.push_back(error_text("mount namespace (cannot make / a slave)"));
    report.mount_namespace = false;
    return;
  }
  std::size_t hidden_count = 0;
  for (const std::string& path : hidden) {
    // A top-level directory (a config dir set to /etc, say) would take the
    // system away from tasks: such a path is reported, not hidden.
    if (std::count(path.begin(), path.end(), '/') <= 1) {
      report.missing.push_back(path + " not hidden: a top-level directory");
      continue;
    }
    std::string error = hide(path);
    if (error.empty()) ++hidden_count;
    else report.missing.push_back(error);
  }
  // A working directory inside a hidden one would still reach its files.
  if (!have_cwd || ::chdir(cwd) != 0) {
    [[maybe_unused]] int rc = ::chdir("/");
  }
  report.hidden_all = hidden_count == hidden.size();
  report.holds.push_back(std::string("mount namespace") +
                         (report.user_namespace ? " in a user namespace" : "") + " (" +
                         std::to_string(hidden_count) + " path(s) hidden)");
  if (strict) {
    if (bring_up_loopback()) {
      report.network_namespace = true;
      report.holds.push_back("network namespace (loopback only)");
    } else {
      report.missing.push_back(error_text("network namespace (cannot bring up its loopback)"));
    }
  }
}

void lock_down(const SandboxOptions& options, SandboxReport& report) {
  if (options.level == SandboxLevel::kOff) return;
  const bool strict = options.level == SandboxLevel::kStrict;
  make_undumpable();
  report.holds.push_back("not dumpable");
  // Root outside a user namespace keeps a few capabilities (files of other
  // users, low ports); in a user namespace of our own the executor holds
  // them all, and gives them all up.
  bool root = ::geteuid() == 0 && !report.user_namespace;
  if (std::string error = drop_capabilities(root); error.empty()) {
    if (root || report.user_namespace)
      report.holds.push_back(root ? "capabilities reduced" : "capabilities dropped");
  } else {
    report.missing.push_back("capabilities (" + error + ")");
  }
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0) {
    report.no_new_privs = true;
    report.holds.push_back("no_new_privs");
  } else {
    report.missing.push_back(error_text("no_new_privs"));
  }
  int abi = landlock_abi();
  if (std::string error = enter_landlock_domain(strict, abi); error.empty()) {
    report.landlock = true;
    report.holds.push_back("Landlock ABI " + std::to_string(abi) + " (" +
                           (strict ? "filesystem allow-list, " : "") + "ptrace" +
                           (abi >= 6 ? " and signals" : "") + " scoped)");
  } else {
    report.missing.push_back("Landlock (" + error + ")");
  }
  if (std::string error = install_seccomp_filter(); error.empty()) {
    report.seccomp = true;
    report.holds.push_back("seccomp filter");
  } else {
    report.missing.push_back(error);
  }
}

bool sandbox_complete(const SandboxOptions& options, const SandboxReport& report) {
  if (options.level != SandboxLevel::kStrict) return true;
  return report.mount_namespace && report.hidden_all && report.network_namespace &&
         report.landlock && report.no_new_privs && report.seccomp;
}

}  // namespace uni::worker
