// Helpers shared by the fault-injection tests.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <set>
#include <string>
#include <thread>

#include "test_cluster.hpp"

namespace uni::test {

using namespace std::chrono_literals;

// A good task after a fault: the cluster still serves.
inline void expect_still_serving(TestCluster& cluster) {
  CommandResult r = cluster.uni({"run", module_path("testfns"), "add", "2", "3"});
  EXPECT_EQ(r.exit_code, 0) << "the cluster stopped serving\n" << r.describe();
  EXPECT_EQ(r.out, "5\n") << r.describe();
}

// An input file for `uni map faults slow`: one line [i, ms] per task.
inline std::string slow_inputs(int count, int milliseconds) {
  std::string text;
  for (int i = 1; i <= count; ++i)
    text += "[" + std::to_string(i) + ", " + std::to_string(milliseconds) + "]\n";
  return text;
}

// `uni map` printed 1..count, each exactly once and in order.
inline void expect_each_result_once(const CommandResult& r, int count) {
  std::vector<std::string> lines = r.lines();
  ASSERT_EQ(lines.size(), static_cast<std::size_t>(count)) << r.describe();
  for (int i = 1; i <= count; ++i) EXPECT_EQ(lines[i - 1], std::to_string(i)) << r.describe();
}

// Polls the status (the document of `uni status --json`, asked through the
// C++ API: no process per round) until pred(status) holds; false on timeout.
template <class Pred>
bool wait_status(TestCluster& cluster, Pred pred, std::chrono::milliseconds timeout = 20s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    nlohmann::json s = cluster.api_status();
    if (!s.is_null() && pred(s)) return true;
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

// Runs `argv` as a background child with the cluster's environment.
inline ChildProcess start_uni(TestCluster& cluster, const std::string& name,
                              const std::vector<std::string>& args) {
  std::vector<std::string> argv{uni_binary()};
  argv.insert(argv.end(), args.begin(), args.end());
  return cluster.start(name, argv);
}

}  // namespace uni::test
