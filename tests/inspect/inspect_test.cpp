// Proves `uni inspect` reads a module from its file without running it: modules
// whose static initialisers segfault, exit(3) or throw are described (their code
// never runs: the marker they would write stays absent), a bare file name is a
// path in the current directory (not dlopen's search path), --json lists each
// function with its type descriptors, and a module built before .uni_exports is
// described as such, not as an error.
#include <dlfcn.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "child_process.hpp"
#include "common/files.hpp"
#include "temp_dir.hpp"
#include "test_cluster.hpp"

namespace uni::test {
namespace {

namespace fs = std::filesystem;

struct Inspected {
  std::optional<ExitStatus> status;
  std::string out, err;
  bool ok() const { return status && !status->signaled && status->code == 0; }
  std::string describe() const {
    return "status: " + test::describe(status) + "\nstdout:\n" + out + "\nstderr:\n" + err;
  }
};

// `uni inspect ARGS...` run in `cwd`, with UNI_TEST_MARKER set to `marker`.
Inspected inspect(const TempDir& dir, const std::vector<std::string>& args,
                  const fs::path& cwd = fs::current_path(), const fs::path& marker = {}) {
  ChildOptions options;
  options.argv = {"/bin/sh",    "-c",     "cd \"$1\" && shift && exec \"$@\"", "sh", cwd.string(),
                  uni_binary(), "inspect"};
  options.argv.insert(options.argv.end(), args.begin(), args.end());
  options.env = {"UNI_TEST_MARKER=" + marker.string()};
  options.output_dir = dir.path();
  options.name = "inspect";
  ChildProcess process = ChildProcess::start(options);
  Inspected out;
  out.status = process.wait_for(std::chrono::seconds(30));
  if (!out.status) process.kill();
  out.out = process.read_stdout();
  out.err = process.read_stderr();
  return out;
}

// dlopen()s the module in a forked child: its exit code, or 128 + the signal that killed it.
[[maybe_unused]] int load_in_child(const std::string& path) {
  pid_t child = ::fork();
  if (child == 0) {
    ::setenv("UNI_TEST_MARKER", "", 1);
    ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    ::_exit(0);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
}

TEST(Inspect, ModulesThatFailWhenLoadedAreDescribedWithoutRunningThem) {
  TempDir dir("uni-inspect");
  for (const char* name : {"load_crash", "load_exit", "load_throw"}) {
    SCOPED_TRACE(name);
    fs::path marker = dir / (std::string(name) + ".marker");
    // Loading it for real does fail, the way its name says.
    const std::string module = name;
    const int expected = module == "load_crash"  ? 128 + SIGSEGV
                         : module == "load_exit" ? 3
                                                 : 128 + SIGABRT;
#if !defined(__SANITIZE_ADDRESS__)  // ASan turns the crash into exit 1 and unwinds differently
    EXPECT_EQ(load_in_child(module_path(name)), expected);
#else
    (void)expected;
#endif
    Inspected r = inspect(dir, {module_path(name)}, fs::current_path(), marker);
    ASSERT_TRUE(r.ok()) << r.describe();
    EXPECT_TRUE(contains(r.out, "int twice(int)")) << r.describe();
    EXPECT_TRUE(contains(r.out, "platform: ")) << r.describe();
    EXPECT_FALSE(fs::exists(marker)) << "the module's static initialiser ran in uni inspect";
  }
}

TEST(Inspect, ABareFileNameIsAPathInTheCurrentDirectory) {
  TempDir dir("uni-inspect");
  fs::path module = module_path("testfns");
  Inspected r = inspect(dir, {module.filename().string()}, module.parent_path());
  ASSERT_TRUE(r.ok()) << r.describe();
  EXPECT_TRUE(contains(r.out, "long ident(long)")) << r.describe();
  // And a name that is not in the current directory is not looked up elsewhere.
  Inspected elsewhere = inspect(dir, {"libz.so.1"}, dir.path());
  ASSERT_TRUE(elsewhere.status && !elsewhere.status->signaled) << elsewhere.describe();
  EXPECT_EQ(elsewhere.status->code, 2) << elsewhere.describe();
  EXPECT_TRUE(contains(elsewhere.err, "libz.so.1")) << elsewhere.describe();
}

TEST(Inspect, JsonListsFunctionsWithTypeDescriptors) {
  TempDir dir("uni-inspect");
  Inspected r = inspect(dir, {"--json", module_path("testfns")});
  ASSERT_TRUE(r.ok()) << r.describe();
  nlohmann::json j = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_TRUE(j.is_object()) << r.describe();
  EXPECT_EQ(j["module"], module_path("testfns"));
  EXPECT_EQ(j["hash"].get<std::string>().size(), 64u);
  EXPECT_EQ(j["size"], fs::file_size(module_path("testfns")));
  ASSERT_TRUE(j["functions"].is_array());
  EXPECT_EQ(j["functions"].size(), 17u);
  nlohmann::json add, translate;
  for (const auto& f : j["functions"]) {
    if (f["name"] == "add") add = f;
    if (f["name"] == "translate") translate = f;
  }
  EXPECT_EQ(add["signature"], "int add(int, int)");
  EXPECT_EQ(add["result"], "i32:int");
  EXPECT_EQ(add["params"], nlohmann::json({"i32:int", "i32:int"}));
  EXPECT_EQ(translate["params"], nlohmann::json({"user<5:Point>", "i32:int", "i32:int"}));
}

TEST(Inspect, AModuleBuiltBeforeExportRecordsSaysSo) {
  TempDir dir("uni-inspect");
  std::string image = read_file(module_path("factorial"));
  const std::string section(".uni_exports\0", 13);
  std::size_t at = image.find(section);
  ASSERT_NE(at, std::string::npos);
  image[at + 5] = 'X';  // the section is no longer found by its name
  fs::path old = dir.write("libold.so", image);
  Inspected r = inspect(dir, {old.string()});
  ASSERT_TRUE(r.ok()) << r.describe();
  EXPECT_TRUE(contains(r.out, "functions: not recorded in the file")) << r.describe();
  Inspected j = inspect(dir, {"--json", old.string()});
  ASSERT_TRUE(j.ok()) << j.describe();
  EXPECT_TRUE(nlohmann::json::parse(j.out)["functions"].is_null()) << j.describe();
}

// It was described as "built with an older uni/module.hpp".
TEST(Inspect, AModuleWithNoExportSaysSo) {
  TempDir dir("uni-inspect");
  Inspected r = inspect(dir, {module_path("no_exports")});
  ASSERT_TRUE(r.ok()) << r.describe();
  EXPECT_TRUE(contains(r.out, "functions: none (the module has no UNI_EXPORT)")) << r.describe();
  EXPECT_FALSE(contains(r.out, "older")) << r.describe();
  Inspected j = inspect(dir, {"--json", module_path("no_exports")});
  ASSERT_TRUE(j.ok()) << j.describe();
  nlohmann::json functions = nlohmann::json::parse(j.out)["functions"];
  EXPECT_TRUE(functions.is_array() && functions.empty()) << j.describe();
}

TEST(Inspect, NonModulesAreStillErrorsWithExitCode2) {
  TempDir dir("uni-inspect");
  Inspected text = inspect(dir, {dir.write("t.so", "text").string()});
  ASSERT_TRUE(text.status && !text.status->signaled);
  EXPECT_EQ(text.status->code, 2) << text.describe();
  EXPECT_TRUE(contains(text.err, "is not an ELF file")) << text.describe();
}

}  // namespace
}  // namespace uni::test
