// The CLI conventions that scripts rely on: JSON arguments (and
// what the wire cannot carry refused with exit 2, never a crash), options
// anywhere before `--`, --version, exit code 2 for usage errors and
// unreadable input, `uni inspect`. These are the client's own and are tested
// on the manager; `uni map` line for line, `uni status --json` and `uni stop`
// are broker behaviour, tested on both in tests/behaviour.
#include <gtest/gtest.h>

#include <cstdint>
#include <set>
#include <sstream>
#include <thread>

#include "test_cluster.hpp"
#include "uni/version.hpp"

namespace uni::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

// `uni run testfns FN ARGS...`, expected to succeed; its stdout as JSON.
json run_json(TestCluster& cluster, const std::string& fn, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"run", module_path("testfns"), fn};
  argv.insert(argv.end(), args.begin(), args.end());
  CommandResult r = cluster.uni(argv);
  EXPECT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_EQ(r.lines().size(), 1u) << r.describe();
  json j = json::parse(r.out, nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << "stdout is not JSON\n" << r.describe();
  return j;
}

TEST(CliArguments, EachArgumentIsOneJsonValue) {
  TestCluster cluster;
  EXPECT_EQ(run_json(cluster, "add", {"3", "4"}), json(7));
  // -7 is a number, not an option.
  EXPECT_EQ(run_json(cluster, "add", {"3", "-7"}), json(-4));
  EXPECT_EQ(run_json(cluster, "scale", {"2.5", "4"}), json(10.0));
  EXPECT_EQ(run_json(cluster, "negate", {"true"}), json(false));
  EXPECT_EQ(run_json(cluster, "reversed", {"[1,2,3]"}), json::parse("[3,2,1]"));
  EXPECT_EQ(run_json(cluster, "count_words", {R"(["a","b","a"])"}),
            json::parse(R"({"a":2,"b":1})"));
  EXPECT_EQ(run_json(cluster, "greet", {R"("ab")"}), json("hello, ab"));
  EXPECT_EQ(run_json(cluster, "add", {"-3", "-4"}), json(-7));
  EXPECT_EQ(run_json(cluster, "greet", {"h\xc3\xa9llo \xe2\x9c\x93"}),
            json("hello, h\xc3\xa9llo \xe2\x9c\x93"));
  EXPECT_EQ(run_json(cluster, "ident", {"9223372036854775807"}), json(INT64_MAX));
}

TEST(CliArguments, NumbersThatDoNotFitTheParameterAreRefused) {
  TestCluster cluster;
  CommandResult big = cluster.uni({"run", module_path("testfns"), "ident", "9223372036854775808"});
  EXPECT_EQ(big.exit_code, 1) << big.describe();
  EXPECT_TRUE(contains(big.err, "argument 1")) << big.describe();
  CommandResult frac = cluster.uni({"run", module_path("testfns"), "add", "1.5", "2"});
  EXPECT_EQ(frac.exit_code, 1) << frac.describe();
  EXPECT_TRUE(contains(frac.err, "argument 1: expected integer, got float")) << frac.describe();
}

TEST(CliArguments, AnArgumentThatIsNotJsonIsAString) {
  TestCluster cluster;
  EXPECT_EQ(run_json(cluster, "greet", {"ab"}), json("hello, ab"));
  EXPECT_EQ(run_json(cluster, "greet", {"two words"}), json("hello, two words"));
  // After --, something that looks like an option is an argument too.
  EXPECT_EQ(run_json(cluster, "greet", {"--", "--timeout"}), json("hello, --timeout"));
  EXPECT_EQ(run_json(cluster, "greet", {"--", "-x"}), json("hello, -x"));
  // Valid JSON stays JSON: 3 is a number, which greet does not take.
  CommandResult r = cluster.uni({"run", module_path("testfns"), "greet", "3"});
  EXPECT_EQ(r.exit_code, 1) << r.describe();
  EXPECT_TRUE(contains(r.err, "argument 1: expected string, got integer")) << r.describe();
}

TEST(CliArguments, ContainersOptionalsTuplesAndStructsRoundTrip) {
  TestCluster cluster;
  EXPECT_EQ(run_json(cluster, "half_if_even", {"10"}), json(5));
  EXPECT_EQ(run_json(cluster, "half_if_even", {"7"}), json(nullptr));
  EXPECT_EQ(run_json(cluster, "divmod", {"17", "5"}), json::parse("[3,2]"));
  EXPECT_EQ(run_json(cluster, "describe_number", {"6"}), json::parse(R"([12,"6",1.5])"));
  EXPECT_EQ(run_json(cluster, "translate", {R"([1,2,"p"])", "10", "20"}),
            json::parse(R"([11,22,"p'"])"));
  EXPECT_EQ(run_json(cluster, "nothing", {"1"}), json(nullptr));
  // A struct of the wrong shape is refused with the argument's position.
  CommandResult r = cluster.uni({"run", module_path("testfns"), "translate", "[1,2]", "0", "0"});
  EXPECT_EQ(r.exit_code, 1) << r.describe();
  EXPECT_TRUE(contains(r.err, "argument 1")) << r.describe();
}

TEST(CliArguments, ApiPassesTheSameTypes) {
  TestCluster cluster;
  uni::Cluster boss = cluster.connect();
  const std::string m = module_path("testfns");
  auto words =
      boss.function<std::map<std::string, int>(std::vector<std::string>)>(m, "count_words");
  auto half = boss.function<std::optional<int>(int)>(m, "half_if_even");
  auto dm = boss.function<std::pair<int, int>(int, int)>(m, "divmod");
  auto desc = boss.function<std::tuple<int, std::string, double>(int)>(m, "describe_number");
  auto nothing = boss.function<void(int)>(m, "nothing");
  auto w = words(std::vector<std::string>{"x", "y", "x"});
  auto h1 = half(8), h2 = half(3);
  auto d = dm(17, 5);
  auto t = desc(6);
  auto n = nothing(1);
  EXPECT_EQ(w.get(), (std::map<std::string, int>{{"x", 2}, {"y", 1}}));
  EXPECT_EQ(h1.get(), std::optional<int>(4));
  EXPECT_EQ(h2.get(), std::nullopt);
  EXPECT_EQ(d.get(), std::make_pair(3, 2));
  EXPECT_EQ(t.get(), std::make_tuple(12, std::string("6"), 1.5));
  EXPECT_NO_THROW(n.get());
}

// Deeply nested JSON crashed the CLI (unbounded recursion, SIGSEGV).
TEST(CliArguments, JsonNestedPastTheWiresLimitIsAUsageErrorNotACrash) {
  TestCluster cluster;
  std::string deep = std::string(40000, '[') + std::string(40000, ']');
  CommandResult r = cluster.uni({"run", module_path("testfns"), "reversed", deep});
  // (describe() would print the 80,000 brackets.)
  EXPECT_EQ(r.exit_code, 2) << "stderr: " << r.err;
  EXPECT_TRUE(contains(r.err, "argument 1: nested deeper than 63 levels")) << r.err;
  // Up to the limit it travels (and the worker says what it thinks of it).
  std::string fits = std::string(63, '[') + std::string(63, ']');
  CommandResult ok = cluster.uni({"run", module_path("testfns"), "reversed", fits});
  EXPECT_EQ(ok.exit_code, 1) << ok.describe();
  EXPECT_TRUE(contains(ok.err, "bad-arguments")) << ok.describe();
  // In uni map, such a line is an error line of its own.
  CommandResult m = cluster.uni({"map", module_path("testfns"), "add"},
                                {.stdin_text = "[1, 2]\n[" + deep + "]\n[3, 4]\n"});
  EXPECT_EQ(m.exit_code, 1) << "stderr: " << m.err;
  std::vector<std::string> lines = m.lines();
  ASSERT_EQ(lines.size(), 3u) << "stdout: " << m.out;
  EXPECT_EQ(lines[0], "3");
  EXPECT_TRUE(contains(lines[1], "nested deeper than 64 levels")) << lines[1];
  EXPECT_EQ(lines[2], "7");
}

TEST(CliArguments, NumbersOutOfRangeAreErrorsNotStrings) {
  TestCluster cluster;
  for (const char* number : {"1e400", "18446744073709551616", "[1, -1e999]"}) {
    CommandResult r = cluster.uni({"run", module_path("testfns"), "greet", number});
    EXPECT_EQ(r.exit_code, 2) << r.describe();
    EXPECT_TRUE(contains(r.err, "out of range")) << r.describe();
  }
  CommandResult m = cluster.uni({"map", module_path("testfns"), "ident"},
                                {.stdin_text = "[5]\n[99999999999999999999]\n"});
  EXPECT_EQ(m.exit_code, 1) << m.describe();
  ASSERT_EQ(m.lines().size(), 2u) << m.describe();
  EXPECT_EQ(m.lines()[0], "5");
  EXPECT_TRUE(contains(m.lines()[1], "out of range")) << m.describe();
}

TEST(CliOptions, TaskOptionsComeBeforeModule) {
  TestCluster cluster;
  CommandResult r = cluster.uni({"run", "--timeout", "10", "--wait", "5", "--max-attempts", "1",
                                 module_path("testfns"), "add", "1", "-2"});
  EXPECT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_EQ(r.out, "-1\n") << r.describe();
  // --timeout limits the run time, in seconds with fractions.
  CommandResult slow = cluster.uni(
      {"run", "--timeout", "0.5", module_path("testfns"), "sleep_ms", "10000"}, {.timeout = 20s});
  EXPECT_EQ(slow.exit_code, 1) << slow.describe();
  EXPECT_TRUE(contains(slow.err, "time")) << slow.describe();
}

// Options placed after MODULE used to become task arguments, and an unknown
// option was taken for the module path.
TEST(CliOptions, OptionsMayFollowModuleAndUnknownOnesAreRefused) {
  TestCluster cluster;
  CommandResult r = cluster.uni({"run", module_path("testfns"), "add", "1", "-2", "--timeout", "10",
                                 "--max-attempts=1", "--wait", "5"});
  EXPECT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_EQ(r.out, "-1\n") << r.describe();
  CommandResult slow = cluster.uni(
      {"run", module_path("testfns"), "sleep_ms", "10000", "--timeout", "0.5"}, {.timeout = 20s});
  EXPECT_EQ(slow.exit_code, 1) << slow.describe();
  EXPECT_TRUE(contains(slow.err, "timed out")) << slow.describe();

  CommandResult unknown =
      cluster.uni({"run", "--no-such-flag", module_path("testfns"), "add", "1", "2"});
  EXPECT_EQ(unknown.exit_code, 2) << unknown.describe();
  EXPECT_TRUE(contains(unknown.err, "unknown option --no-such-flag")) << unknown.describe();
  EXPECT_FALSE(contains(unknown.err, "cannot open module")) << unknown.describe();
  CommandResult later = cluster.uni({"run", module_path("testfns"), "greet", "-x"});
  EXPECT_EQ(later.exit_code, 2) << later.describe();
  EXPECT_TRUE(contains(later.err, "unknown option -x")) << later.describe();
  EXPECT_TRUE(contains(later.err, "-- -x")) << "the error should say where such arguments go\n"
                                            << later.describe();
  CommandResult missing = cluster.uni({"run", module_path("testfns"), "add", "1", "2", "--wait"});
  EXPECT_EQ(missing.exit_code, 2) << missing.describe();
  EXPECT_TRUE(contains(missing.err, "--wait needs a value")) << missing.describe();
}

// One parser for every task command: `uni submit` read an option after FN
// as three more arguments and kept `--` as an argument; `uni map` took
// options after FN only where CLI11 happened to.
TEST(CliOptions, EveryTaskCommandReadsItsLineAlike) {
  TestCluster cluster;
  auto kept = [&](const std::vector<std::string>& argv) {
    CommandResult submit = cluster.uni(argv);
    EXPECT_EQ(submit.exit_code, 0) << submit.describe();
    if (submit.lines().size() != 1) return submit;
    return cluster.uni({"result", submit.lines()[0], "--wait", "60"}, {.timeout = 90s});
  };
  CommandResult after = kept({"submit", module_path("testfns"), "add", "7", "--timeout", "5", "1"});
  EXPECT_EQ(after.exit_code, 0) << after.describe();
  EXPECT_EQ(after.out, "8\n") << after.describe();
  CommandResult literal = kept({"submit", module_path("testfns"), "greet", "--", "--x"});
  EXPECT_EQ(literal.exit_code, 0) << literal.describe();
  EXPECT_EQ(literal.out, "\"hello, --x\"\n") << literal.describe();
  CommandResult unknown = cluster.uni({"submit", module_path("testfns"), "add", "1", "--nope"});
  EXPECT_EQ(unknown.exit_code, 2) << unknown.describe();
  EXPECT_TRUE(contains(unknown.err, "unknown option --nope")) << unknown.describe();
  CommandResult attempts =
      cluster.uni({"submit", module_path("testfns"), "add", "1", "2", "--max-attempts", "0"});
  EXPECT_EQ(attempts.exit_code, 2) << attempts.describe();

  std::string input = cluster.dir().write("in.jsonl", "[1,2]\n").string();
  CommandResult map = cluster.uni({"map", module_path("testfns"), "add", "--timeout", "5",
                                   "--input", input, "--quiet", "--max-attempts=2"});
  EXPECT_EQ(map.exit_code, 0) << map.describe();
  EXPECT_EQ(map.out, "3\n") << map.describe();
  CommandResult map_arg =
      cluster.uni({"map", module_path("testfns"), "add", "5", "--input", input});
  EXPECT_EQ(map_arg.exit_code, 2) << map_arg.describe();
  EXPECT_TRUE(contains(map_arg.err, "takes no ARG")) << map_arg.describe();
}

// Text meant as JSON with a typo in it ('[1,2') used to travel as a string.
TEST(CliArguments, MalformedJsonIsAUsageErrorThatSaysHowToPassAString) {
  TestCluster cluster;
  for (const char* command : {"run", "submit", "spawn"}) {
    CommandResult r = cluster.uni({command, module_path("testfns"), "reversed", "[1,2"});
    EXPECT_EQ(r.exit_code, 2) << r.describe();
    EXPECT_TRUE(contains(r.err, "argument 1 is not valid JSON; pass strings as '\"...\"'"))
        << r.describe();
  }
  CommandResult third = cluster.uni({"run", module_path("testfns"), "add", "1", "2", "3x"});
  EXPECT_EQ(third.exit_code, 2) << third.describe();
  EXPECT_TRUE(contains(third.err, "argument 3 is not valid JSON")) << third.describe();
  // A bare word is still a string.
  EXPECT_EQ(run_json(cluster, "greet", {"ab"}), json("hello, ab"));
}

TEST(CliMap, EmptyInputPrintsNothingAndSucceeds) {
  TestCluster cluster;
  CommandResult r =
      cluster.uni({"map", module_path("testfns"), "add"}, {.stdin_text = std::string()});
  EXPECT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_EQ(r.out, "") << r.describe();
}

// `uni map --input DIR` printed nothing and exited 0.
TEST(CliMap, UnreadableInputIsAnErrorNotAnEmptyMap) {
  TestCluster cluster;
  CommandResult dir =
      cluster.uni({"map", module_path("testfns"), "add", "--input", cluster.dir().path().string()});
  EXPECT_EQ(dir.exit_code, 2) << dir.describe();
  EXPECT_TRUE(contains(dir.err, "directory")) << dir.describe();
  EXPECT_EQ(dir.out, "") << dir.describe();
  // Standard input that is a directory cannot be read either.
  CommandResult in =
      cluster.run({"/bin/sh", "-c", "exec \"$0\" map \"$1\" add < \"$2\"", uni_binary(),
                   module_path("testfns"), cluster.dir().path().string()});
  EXPECT_EQ(in.exit_code, 2) << in.describe();
  EXPECT_TRUE(contains(in.err, "cannot read standard input")) << in.describe();
}

TEST(CliVersion, PrintsTheVersion) {
  TestCluster cluster({.workers = 0});
  CommandResult r = cluster.uni({"--version"}, {.cluster_env = false});
  EXPECT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_TRUE(contains(r.out, UNI_VERSION_STRING)) << r.describe();
}

TEST(CliUsage, BadFlagOrUnreadableModuleIsExitCode2) {
  TestCluster cluster;
  CommandResult flag =
      cluster.uni({"run", "--no-such-flag", module_path("testfns"), "add", "1", "2"});
  EXPECT_EQ(flag.exit_code, 2) << flag.describe();
  EXPECT_FALSE(flag.err.empty()) << flag.describe();
  CommandResult status_flag = cluster.uni({"status", "--bogus"});
  EXPECT_EQ(status_flag.exit_code, 2) << status_flag.describe();
  CommandResult no_command = cluster.uni({"frobnicate"});
  EXPECT_EQ(no_command.exit_code, 2) << no_command.describe();
  CommandResult missing_args = cluster.uni({"run", module_path("testfns")});
  EXPECT_EQ(missing_args.exit_code, 2) << missing_args.describe();
  CommandResult bad_wait =
      cluster.uni({"run", "--wait", "soon", module_path("testfns"), "add", "1", "2"});
  EXPECT_EQ(bad_wait.exit_code, 2) << bad_wait.describe();
  // A directory is not a readable module file.
  CommandResult dir = cluster.uni({"run", cluster.dir().path().string(), "f"});
  EXPECT_EQ(dir.exit_code, 2) << dir.describe();
  CommandResult map_missing = cluster.uni(
      {"map", "--input", (cluster.dir() / "absent.jsonl").string(), module_path("testfns"), "add"});
  EXPECT_EQ(map_missing.exit_code, 2) << map_missing.describe();
  CommandResult inspect_text =
      cluster.uni({"inspect", cluster.dir().write("t.so", "text").string()});
  EXPECT_EQ(inspect_text.exit_code, 2) << inspect_text.describe();
  CommandResult inspect_missing = cluster.uni({"inspect", (cluster.dir() / "absent.so").string()});
  EXPECT_EQ(inspect_missing.exit_code, 2) << inspect_missing.describe();
}

TEST(CliInspect, PrintsFunctionsWithSignatures) {
  TestCluster cluster({.workers = 0});
  CommandResult r = cluster.uni({"inspect", module_path("testfns")}, {.cluster_env = false});
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  for (const char* sig :
       {"add(int, int)", "greet(std::string)", "ident(long)", "nothing(int)", "sleep_ms(int)"})
    EXPECT_TRUE(contains(r.out, sig)) << "missing " << sig << "\n" << r.describe();
  EXPECT_TRUE(contains(r.out, "hash:")) << r.describe();
  EXPECT_TRUE(contains(r.out, "platform:")) << r.describe();
  // 17 functions, one line each.
  int listed = 0;
  bool in_functions = false;
  for (const auto& line : r.lines()) {
    if (in_functions && line.rfind("  ", 0) == 0) ++listed;
    if (line == "functions:") in_functions = true;
  }
  EXPECT_EQ(listed, 17) << r.describe();
}

}  // namespace
}  // namespace uni::test
