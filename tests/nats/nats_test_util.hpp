// Helpers shared by the NATS tests: tasks and results to put through the
// queue, and polling for a condition that the server reaches asynchronously.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "proto/messages.hpp"

namespace uni::nats::testing {

inline std::vector<proto::Task> make_tasks(std::uint64_t session, std::uint64_t first_seq,
                                           int count) {
  std::vector<proto::Task> out;
  for (int i = 0; i < count; ++i) {
    proto::Task task;
    task.id = {session, first_seq + static_cast<std::uint64_t>(i)};
    task.module = ModuleHash::of("module bytes");
    task.function = "ident";
    task.args = std::string("\x91", 1) + static_cast<char>(i & 0x7f);  // [i]
    task.max_attempts = 3;
    out.push_back(task);
  }
  return out;
}

inline std::vector<const proto::Task*> pointers(const std::vector<proto::Task>& tasks) {
  std::vector<const proto::Task*> out;
  for (const proto::Task& task : tasks) out.push_back(&task);
  return out;
}

// Polls `condition` every 50 ms until it holds or `timeout` passes.
inline bool eventually(const std::function<bool()>& condition,
                       std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return true;
}

}  // namespace uni::nats::testing
