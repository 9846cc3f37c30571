// The executor process: runs one task at a time for its supervisor, so that a
// task that crashes, leaks or hangs takes down only this process. Started by
// the supervisor as `uni executor` (fork+exec, never a bare fork of a process
// holding a ZeroMQ context) with the channel on fd 3, its status page on fd 4,
// the hand-over eventfd on fd 5, and stdout/stderr piped to the supervisor.
#pragma once

#include <sys/types.h>

#include <cstdint>

#include "worker/sandbox.hpp"

namespace uni::worker {

inline constexpr int kExecutorChannelFd = 3;
inline constexpr int kExecutorStatusFd = 4;  // the shared status page (status_page.hpp)
// An eventfd the supervisor writes to ask a service to hand over (become,
// executor_service.hpp). Optional: without it no service is ever asked.
inline constexpr int kExecutorHandoverFd = 5;

struct ExecutorOptions {
  pid_t supervisor = 0;         // exit if this is no longer our parent
  std::uint64_t mem_limit = 0;  // RLIMIT_AS in bytes, 0 = none
  // Resident memory past which the executor asks to be replaced after the
  // task that passed it (RETIRE, channel.hpp); 0 = no limit.
  std::uint64_t max_memory = 0;
  // Run in a PID namespace of its own (executor_keeper.hpp); the supervisor
  // has checked that the kernel allows it.
  bool pid_namespace = false;
  SandboxOptions sandbox;  // entered before any task code (sandbox.hpp)
};

// Serves RUN requests on fd 3 until the channel closes, under a keeper
// process when `supervisor` is set. Returns the exit code: 0 when the channel
// closed, 2 on a frame it cannot read or a strict sandbox it cannot enter.
int run_executor(const ExecutorOptions& options);

// `uni executor --probe-sandbox`: enters the sandbox of `options` and prints
// what held. Returns 0, or 2 if a strict sandbox is incomplete.
int probe_executor_sandbox(const ExecutorOptions& options);

}  // namespace uni::worker
