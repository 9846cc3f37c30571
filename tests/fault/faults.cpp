// A module whose functions misbehave on purpose: the fault-injection tests
// run them to prove that a crashing, hanging or greedy task costs only its
// executor, never the worker, and never a result.
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <uni/module.hpp>

int segfault(int value) {
  volatile int* nowhere = nullptr;
  *nowhere = value;
  return value;
}

int abort_now() { std::abort(); }

int exit_now(int code) { std::exit(code); }

// Recursion that the compiler cannot turn into a loop, on purpose endless.
#pragma GCC diagnostic ignored "-Winfinite-recursion"
static int recurse(volatile char* previous, int depth) {
  volatile char frame[4096];
  frame[0] = previous ? previous[0] : 1;
  return depth + recurse(frame, depth + 1) + frame[0];
}
int stack_overflow() { return recurse(nullptr, 0); }

// Allocates and touches `megabytes` MiB; returns the count of pages touched.
std::int64_t allocate(std::int64_t megabytes) {
  std::vector<char> block(static_cast<std::size_t>(megabytes) << 20);
  for (std::size_t i = 0; i < block.size(); i += 4096) block[i] = 1;
  return static_cast<std::int64_t>(block.size() / 4096);
}

int spin_forever() {
  volatile std::uint64_t counter = 0;
  for (;;) counter = counter + 1;
}

// Sleeps, then returns its argument: a slow task.
int slow(int value, int milliseconds) {
  std::this_thread::sleep_for(std::chrono::milliseconds(milliseconds));
  return value;
}

// Crashes while the marker file does not exist, creating it: the first
// attempt dies, the retry succeeds.
int crash_once(std::string marker, int value) {
  if (::access(marker.c_str(), F_OK) != 0) {
    std::ofstream(marker) << "crashed once\n";
    std::raise(SIGSEGV);
  }
  return value;
}

// Appends a line to a file each time it starts, then sleeps: counts runs.
int counted(std::string path, int value, int milliseconds) {
  std::ofstream(path, std::ios::app) << value << "\n";
  std::this_thread::sleep_for(std::chrono::milliseconds(milliseconds));
  return value;
}

// Counts its run (as `counted` does), then closes every descriptor from 3 up,
// its executor's channel to the supervisor among them, and returns: the
// executor can no longer deliver any result.
int close_descriptors(std::string path, int value) {
  std::ofstream(path, std::ios::app) << value << "\n";
  for (int fd = 3; fd < 1024; ++fd) ::close(fd);
  return value;
}

// Allocates 8 MiB blocks, touched, and keeps them until an allocation fails:
// std::bad_alloc under --mem-limit, with the memory left behind for good.
std::int64_t leak_until_oom() {
  static std::vector<std::unique_ptr<char[]>> kept;
  kept.reserve(1 << 16);
  for (;;) {
    auto& block = kept.emplace_back(new char[8 << 20]);
    std::memset(block.get(), 1, 8 << 20);
  }
}

// Keeps `megabytes` MiB, touched, for the executor's lifetime; returns it.
std::int64_t leak(std::int64_t megabytes) {
  static std::vector<std::unique_ptr<char[]>> kept;
  for (std::int64_t i = 0; i < megabytes; ++i) {
    auto& block = kept.emplace_back(new char[1 << 20]);
    std::memset(block.get(), 1, 1 << 20);
  }
  return megabytes;
}

namespace {
// This process's pid as /proc (and the tests) see it: getpid() would give
// the pid inside the executor's PID namespace.
pid_t host_pid() {
  char link[32] = {};
  if (::readlink("/proc/self", link, sizeof(link) - 1) <= 0) return ::getpid();
  return static_cast<pid_t>(std::atol(link));
}

[[noreturn]] void become_sleeper(const std::string& pid_file) {
  std::ofstream(pid_file, std::ios::app) << host_pid() << "\n" << std::flush;
  ::execl("/bin/sleep", "sleep", "600", static_cast<char*>(nullptr));
  ::_exit(127);
}
}  // namespace

// Starts a process that records its pid in `pid_file` and sleeps for ten
// minutes: a child of the executor, or (detached) a grandchild in a session
// of its own whose parent has exited, as a daemon would be. Then `then`:
// "return" 0, "throw", "crash" (SIGSEGV) or "hang" (sleep for ever).
int start_child(std::string pid_file, bool detached, std::string then) {
  pid_t child = ::fork();
  if (child < 0) throw std::runtime_error("fork failed");
  if (child == 0) {
    if (!detached) become_sleeper(pid_file);
    ::setsid();
    if (::fork() == 0) become_sleeper(pid_file);
    ::_exit(0);
  }
  if (detached) ::waitpid(child, nullptr, 0);
  // The child has written its pid before the task goes on.
  for (int i = 0; i < 1000; ++i) {
    std::ifstream in(pid_file);
    std::string line;
    if (std::getline(in, line) && !line.empty()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (then == "throw") throw std::runtime_error("failed after starting a child");
  if (then == "crash") return segfault(1);
  if (then == "hang")
    for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
  return 0;
}

// Writes `megabytes` MiB of 'x' to stdout without a newline.
std::int64_t flood(std::int64_t megabytes) {
  std::string block(1 << 20, 'x');
  for (std::int64_t i = 0; i < megabytes; ++i) std::fwrite(block.data(), 1, block.size(), stdout);
  std::fflush(stdout);
  return megabytes;
}

UNI_EXPORT(segfault);
UNI_EXPORT(abort_now);
UNI_EXPORT(exit_now);
UNI_EXPORT(stack_overflow);
UNI_EXPORT(allocate);
UNI_EXPORT(spin_forever);
UNI_EXPORT(slow);
UNI_EXPORT(crash_once);
UNI_EXPORT(counted);
UNI_EXPORT(close_descriptors);
UNI_EXPORT(leak_until_oom);
UNI_EXPORT(leak);
UNI_EXPORT(start_child);
UNI_EXPORT(flood);
