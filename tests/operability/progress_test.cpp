// `uni map`'s progress line: on a terminal (a pseudo-terminal
// here) one line on stderr redrawn in place, ending with the final
// done/total and the failures, while stdout keeps exactly one result per
// input line; nothing when stderr is not a terminal; --quiet silences it and
// --progress forces plain lines.
#include <gtest/gtest.h>

#include "operability_support.hpp"
#include "pty_process.hpp"

namespace uni::test {
namespace {

using namespace std::chrono_literals;

// 30 tasks of 30 ms and one whose argument is wrong: a failure.
std::vector<std::string> input_lines() {
  std::vector<std::string> lines(30, "[30]");
  lines.insert(lines.begin() + 10, "[\"not a number\"]");
  return lines;
}

std::vector<std::string> client_env(TestCluster& cluster) {
  std::vector<std::string> env = cluster.base_env();
  env.push_back("UNI_CONNECT=" + cluster.address());
  env.push_back("UNI_AUTHKEY=" + cluster.authkey());
  return env;
}

TEST(MapProgress, OnATerminalALineRedrawnInPlaceWithTheFinalFigures) {
  TestCluster cluster({.workers = 1, .slots = 2});
  std::string input = write_input(cluster, "in.jsonl", input_lines());
  std::string results = (cluster.dir() / "results.jsonl").string();
  PtyProcess map({uni_binary(), "map", module_path("testfns"), "sleep_ms", "--input", input},
                 client_env(cluster), results);
  std::optional<int> code = map.wait(60s);
  ASSERT_TRUE(code.has_value()) << map.output();
  EXPECT_EQ(*code, 1) << map.output();  // one task failed
  const std::string& out = map.output();
  EXPECT_TRUE(contains(out, "\runi map: ")) << out;
  EXPECT_TRUE(contains(out, "\x1b[K")) << out;
  EXPECT_TRUE(contains(out, "uni map: 31/31 (100%)")) << out;
  EXPECT_TRUE(contains(out, "1 failed")) << out;
  EXPECT_TRUE(contains(out, "/s")) << out;
  // The terminal got the progress; the results went to stdout, one a line.
  std::vector<std::string> lines = split_lines(read_text(results));
  ASSERT_EQ(lines.size(), 31u);
  EXPECT_TRUE(contains(lines[10], "\"error\"")) << lines[10];
  EXPECT_EQ(lines[0], "30");
  EXPECT_FALSE(contains(out, "\n30\r")) << out;
}

// Failures are counted as their results arrive, not as the map reaches them
// in order: three tasks fail while the first one still runs. A slot for each
// task: with two, the worker, which pipelines tasks it takes for short (as
// the failures are) to the least loaded executor, may queue one of them
// behind the slow task, and then it cannot fail before that ends.
TEST(MapProgress, FailuresBehindAnUnfinishedTaskAreCountedAtOnce) {
  TestCluster cluster({.workers = 1, .slots = 4});
  std::string input = write_input(cluster, "in.jsonl", {"[3000]", "[-1]", "[-2]", "[-3]"});
  PtyProcess map({uni_binary(), "map", module_path("testfns"), "sleep_ms", "--input", input},
                 client_env(cluster), (cluster.dir() / "results.jsonl").string());
  std::optional<int> code = map.wait(60s);
  ASSERT_TRUE(code.has_value()) << map.output();
  EXPECT_EQ(*code, 1) << map.output();
  const std::string& out = map.output();
  EXPECT_TRUE(contains(out, "uni map: 3/4 (75%)")) << out;
  // Every line drawn before the slow task finished already counts all three.
  std::size_t at = 0, seen = 0;
  while ((at = out.find("uni map: 3/4 (75%)", at)) != std::string::npos) {
    std::size_t end = out.find('\r', at);
    std::string line = out.substr(at, end == std::string::npos ? end : end - at);
    EXPECT_TRUE(contains(line, "3 failed")) << line;
    ++seen;
    at += 1;
  }
  EXPECT_GT(seen, 0u);
  EXPECT_TRUE(contains(out, "uni map: 4/4 (100%)")) << out;
}

TEST(MapProgress, QuietSilencesItOnATerminal) {
  TestCluster cluster({.workers = 1, .slots = 2});
  std::string input = write_input(cluster, "in.jsonl", input_lines());
  PtyProcess map(
      {uni_binary(), "map", "--quiet", module_path("testfns"), "sleep_ms", "--input", input},
      client_env(cluster), (cluster.dir() / "results.jsonl").string());
  std::optional<int> code = map.wait(60s);
  ASSERT_TRUE(code.has_value()) << map.output();
  EXPECT_FALSE(contains(map.output(), "uni map:")) << map.output();
}

TEST(MapProgress, NothingWhenStderrIsNotATerminalUnlessForced) {
  TestCluster cluster({.workers = 1, .slots = 2});
  std::string input = write_input(cluster, "in.jsonl", input_lines());
  CommandResult plain = cluster.uni({"map", module_path("testfns"), "sleep_ms", "--input", input});
  EXPECT_EQ(plain.exit_code, 1) << plain.describe();
  EXPECT_EQ(plain.lines().size(), 31u);
  EXPECT_FALSE(contains(plain.err, "uni map:")) << plain.describe();

  CommandResult forced =
      cluster.uni({"map", "--progress", module_path("testfns"), "sleep_ms", "--input", input});
  EXPECT_EQ(forced.exit_code, 1) << forced.describe();
  EXPECT_EQ(forced.lines().size(), 31u);
  EXPECT_TRUE(contains(forced.err, "uni map: 31/31 (100%)")) << forced.describe();
  EXPECT_TRUE(contains(forced.err, "1 failed\n")) << forced.describe();
  EXPECT_FALSE(contains(forced.err, "\r")) << forced.describe();
}

// The rate is taken from before the first task goes out: started after the
// submission, the line's first frame showed millions of tasks a second and
// its final average was 1.5 to 4 times the real rate of a map of short tasks.
TEST(MapProgress, TheFinalRateIsTheMapsRealAverage) {
  TestCluster cluster({.workers = 1, .slots = 2});
  constexpr int kTasks = 50000;
  std::vector<std::string> lines;
  lines.reserve(kTasks);
  for (int i = 0; i < kTasks; ++i) lines.push_back("[" + std::to_string(i) + ",1]");
  std::string input = write_input(cluster, "in.jsonl", lines);
  CommandResult map = cluster.uni(
      {"map", "--progress", module_path("testfns"), "add", "--input", input}, {.timeout = 120s});
  ASSERT_EQ(map.exit_code, 0) << map.err;
  ASSERT_EQ(map.lines().size(), static_cast<std::size_t>(kTasks));
  const std::string final_line = "uni map: 50000/50000 (100%)  ";
  std::size_t at = map.err.rfind(final_line);
  ASSERT_NE(at, std::string::npos) << map.err;
  double rate = std::stod(map.err.substr(at + final_line.size()));
  // The command's whole run, process start and connection included, is a
  // little longer than what the line measures: never 30 % longer.
  double real = kTasks / std::chrono::duration<double>(map.elapsed).count();
  EXPECT_GE(rate, real) << map.err;
  EXPECT_LE(rate, 1.3 * real) << "the line says " << rate << "/s; the map ran at " << real << "/s\n"
                              << map.err;
}

}  // namespace
}  // namespace uni::test
