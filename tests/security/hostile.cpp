// hostile: tasks that attack the worker that runs them, as a malicious
// module would — read its secrets, its memory and its siblings', poison its
// module cache, trace it. Each returns what it achieved, or the error it got,
// so that a test sees exactly which wall held; the calls the sandbox denies
// outright never return (the task fails "sandbox: NAME denied").
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <uni/module.hpp>

namespace {

std::string failure(const char* what) {
  return std::string("error: ") + what + ": " + std::strerror(errno);
}

std::string slurp(int fd, std::size_t limit) {
  std::string out;
  char buffer[4096];
  while (out.size() < limit) {
    ssize_t n = ::read(fd, buffer, sizeof(buffer));
    if (n <= 0) break;
    out.append(buffer, static_cast<std::size_t>(n));
  }
  return out;
}

// Processes whose parent is `parent`, from /proc.
std::vector<int> children_of(int parent) {
  std::vector<int> out;
  DIR* proc = ::opendir("/proc");
  if (!proc) return out;
  while (dirent* e = ::readdir(proc)) {
    int pid = std::atoi(e->d_name);
    if (pid <= 0) continue;
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!std::getline(stat, line)) continue;
    auto close = line.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(line.substr(close + 2));
    char state;
    int ppid = 0;
    rest >> state >> ppid;
    if (ppid == parent) out.push_back(pid);
  }
  ::closedir(proc);
  return out;
}

}  // namespace

// The value of an environment variable, or "<unset>".
std::string env_var(std::string name) {
  const char* value = std::getenv(name.c_str());
  return value ? value : "<unset>";
}

// The first 4 KiB of a file, or the error.
std::string read_path(std::string path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return failure("open");
  std::string out = slurp(fd, 4096);
  ::close(fd);
  return out;
}

// The worker's supervisor: this executor's parent.
int supervisor_pid() { return static_cast<int>(::getppid()); }

// The other executors of this worker.
std::vector<int> sibling_pids() {
  std::vector<int> out;
  for (int pid : children_of(static_cast<int>(::getppid())))
    if (pid != ::getpid()) out.push_back(pid);
  return out;
}

// Reads 64 bytes of another process's memory through /proc/PID/mem, at the
// start of its first readable mapping.
std::string read_memory(int pid) {
  std::string base = "/proc/" + std::to_string(pid);
  int mem = ::open((base + "/mem").c_str(), O_RDONLY | O_CLOEXEC);
  if (mem < 0) return failure("open mem");
  std::ifstream maps(base + "/maps");
  std::string line;
  unsigned long start = 0;
  while (std::getline(maps, line))
    if (line.find(" r") != std::string::npos) {
      start = std::strtoul(line.c_str(), nullptr, 16);
      break;
    }
  char buffer[64];
  ssize_t n = start ? ::pread(mem, buffer, sizeof(buffer), static_cast<off_t>(start)) : -1;
  std::string out = n > 0 ? "read " + std::to_string(n) + " bytes" : failure("read mem");
  ::close(mem);
  return out;
}

// Reads 8 bytes of another process's memory with process_vm_readv.
std::string vm_read(int pid) {
  char here[8];
  iovec local{here, sizeof(here)};
  // Any address: the call itself is what the sandbox refuses.
  iovec remote{reinterpret_cast<void*>(0x400000), sizeof(here)};
  ssize_t n = ::process_vm_readv(pid, &local, 1, &remote, 1, 0);
  return n >= 0 ? "read " + std::to_string(n) + " bytes" : failure("process_vm_readv");
}

// Attaches to another process with ptrace (and lets go of it).
std::string trace(int pid) {
  if (::ptrace(PTRACE_ATTACH, pid, nullptr, nullptr) != 0) return failure("ptrace");
  ::ptrace(PTRACE_DETACH, pid, nullptr, nullptr);
  return "attached";
}

// Puts the bytes of `evil_path` in the place of `cache_file` — renamed over
// it, or written into it in place — then kills the sibling executors, so
// that fresh ones load the module again. Returns what it did.
std::string poison_cache(std::string cache_file, std::string evil_path, bool rename_over) {
  std::string evil = read_path(evil_path);
  if (evil.rfind("error: ", 0) == 0) return evil;
  int fd = -1;
  std::string written = cache_file;
  if (rename_over) {
    written = cache_file + ".swap";
    fd = ::open(written.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  } else {
    fd = ::open(cache_file.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
  }
  if (fd < 0) return failure("open the cache file");
  // A module is larger than one read_path's worth: copy the whole file.
  int from = ::open(evil_path.c_str(), O_RDONLY | O_CLOEXEC);
  std::string bytes = slurp(from, 1 << 30);
  ::close(from);
  bool ok = ::write(fd, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size());
  ::close(fd);
  if (!ok) return failure("write the cache file");
  if (rename_over && ::rename(written.c_str(), cache_file.c_str()) != 0)
    return failure("rename over the cache file");
  int killed = 0;
  for (int pid : sibling_pids()) killed += ::kill(pid, SIGKILL) == 0;
  return "poisoned; killed " + std::to_string(killed) + " sibling(s)";
}

// Sends SIGKILL to the sibling executors; how many it reached.
int kill_siblings() {
  int killed = 0;
  for (int pid : sibling_pids()) killed += ::kill(pid, SIGKILL) == 0;
  return killed;
}

// The descriptors open in this executor, each as its target ("3 -> socket:[...]").
std::vector<std::string> open_fds() {
  std::vector<std::string> out;
  DIR* dir = ::opendir("/proc/self/fd");
  if (!dir) return out;
  while (dirent* e = ::readdir(dir)) {
    if (e->d_name[0] == '.') continue;
    char target[512] = {};
    std::string link = std::string("/proc/self/fd/") + e->d_name;
    ssize_t n = ::readlink(link.c_str(), target, sizeof(target) - 1);
    out.push_back(std::string(e->d_name) + " -> " + (n > 0 ? std::string(target, n) : "?"));
  }
  ::closedir(dir);
  return out;
}

// A line of /proc/self/status ("NoNewPrivs", "Seccomp", "CapEff"), its value.
std::string status_field(std::string name) {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind(name + ":", 0) == 0) {
      std::string value = line.substr(name.size() + 1);
      value.erase(0, value.find_first_not_of(" \t"));
      return value;
    }
  return "<none>";
}

// Whether this executor can be read by its user's other processes.
int dumpable() { return ::prctl(PR_GET_DUMPABLE, 0, 0, 0, 0); }

// Makes itself readable again (the sandbox refuses).
std::string make_dumpable() {
  return ::prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) == 0 ? "dumpable" : failure("prctl");
}

// A TCP connection to host:port.
std::string connect_to(std::string host, int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return failure("socket");
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(static_cast<std::uint16_t>(port));
  ::inet_pton(AF_INET, host.c_str(), &to.sin_addr);
  std::string out = ::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof(to)) == 0
                        ? "connected"
                        : failure("connect");
  ::close(fd);
  return out;
}

// A thread and a forked child both still work in the sandbox.
int fork_and_wait() {
  pid_t child = ::fork();
  if (child == 0) ::_exit(7);
  int status = 0;
  ::waitpid(child, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

UNI_EXPORT(env_var);
UNI_EXPORT(read_path);
UNI_EXPORT(supervisor_pid);
UNI_EXPORT(sibling_pids);
UNI_EXPORT(read_memory);
UNI_EXPORT(vm_read);
UNI_EXPORT(trace);
UNI_EXPORT(poison_cache);
UNI_EXPORT(kill_siblings);
UNI_EXPORT(open_fds);
UNI_EXPORT(status_field);
UNI_EXPORT(dumpable);
UNI_EXPORT(make_dumpable);
UNI_EXPORT(connect_to);
UNI_EXPORT(fork_and_wait);
