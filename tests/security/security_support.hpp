// Helpers of the security tests: commands run as a key and the refusals they
// meet, hostile tasks run through `uni run`, their results read as JSON, and
// the files of a cluster they go after.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "test_cluster.hpp"

namespace uni::test {

// A command's options to run as a keyed cluster's key NAME (UNI_KEY).
inline CommandOptions as(const TestCluster& cluster, const std::string& key) {
  return {.env = {"UNI_KEY=" + cluster.key_file(key).string()}};
}

// A command the manager refused: exit 3, and `text` on stderr.
inline void expect_refused(const CommandResult& r, const std::string& text) {
  EXPECT_EQ(r.exit_code, 3) << r.describe();
  EXPECT_TRUE(contains(r.err, text)) << "expected '" << text << "'\n" << r.describe();
}

// A JSON string argument for `uni run`.
inline std::string quoted(const std::string& text) { return nlohmann::json(text).dump(); }

// `uni run MODULE FN ARGS...`, expected to succeed; its result as JSON (null
// if it failed: the test has failed then too).
inline nlohmann::json run_task(TestCluster& cluster, const std::string& module,
                               const std::string& fn, const std::vector<std::string>& args = {}) {
  std::vector<std::string> argv = {"run", module, fn};
  argv.insert(argv.end(), args.begin(), args.end());
  CommandResult r = cluster.uni(argv);
  EXPECT_EQ(r.exit_code, 0) << r.describe();
  if (r.exit_code != 0) return nullptr;
  nlohmann::json j = nlohmann::json::parse(r.out, nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << "stdout is not JSON\n" << r.describe();
  return j;
}

// The hostile module's function FN (tests/security/hostile.cpp).
inline nlohmann::json hostile(TestCluster& cluster, const std::string& fn,
                              const std::vector<std::string>& args = {}) {
  return run_task(cluster, module_path("hostile"), fn, args);
}

inline std::string text_of(const nlohmann::json& j) {
  return j.is_string() ? j.get<std::string>() : j.dump();
}

// A good task after an attack: the cluster still serves.
inline void expect_still_serving(TestCluster& cluster) {
  CommandResult r = cluster.uni({"run", module_path("factorial"), "factorial", "5"});
  EXPECT_EQ(r.exit_code, 0) << "the cluster stopped serving\n" << r.describe();
  EXPECT_EQ(r.out, "120\n") << r.describe();
}

inline void write_text(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

// The port of a cluster's manager (tcp://127.0.0.1:PORT).
inline std::string manager_port(const TestCluster& cluster) {
  return cluster.address().substr(cluster.address().rfind(':') + 1);
}

}  // namespace uni::test
