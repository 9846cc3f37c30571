// A module whose functions misbehave on purpose: the fault-injection tests
// run them to prove that a crashing, hanging or greedy task costs only its
// executor, never the worker, and never a result.
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
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
