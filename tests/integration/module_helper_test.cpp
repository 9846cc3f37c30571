// What README's "Writing a module" promises a user outside this repository:
// a CMake project of their own includes cmake/UniModule.cmake and builds a
// module with uni_add_module() alone (no variables to set), and structs
// travel as the README says: MSGPACK_DEFINE as JSON arrays, MSGPACK_DEFINE_MAP
// as JSON objects.
#include <gtest/gtest.h>

#include "test_cluster.hpp"

namespace uni::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

const char* kProject = R"(cmake_minimum_required(VERSION 3.16)
project(shapes CXX)
include(${UNI_REPO}/cmake/UniModule.cmake)
uni_add_module(shapes shapes.cpp)
)";

// The README's example of both kinds of struct.
const char* kSource = R"(#include <uni/module.hpp>

struct Point {  // a JSON array: [x, y]
  int x = 0;
  int y = 0;
  MSGPACK_DEFINE(x, y);
};

struct Size {  // a JSON object: {"width": w, "height": h}
  int width = 0;
  int height = 0;
  MSGPACK_DEFINE_MAP(width, height);
};

Point midpoint(Point a, Point b) { return {(a.x + b.x) / 2, (a.y + b.y) / 2}; }
Size scaled(Size s, int factor) { return {s.width * factor, s.height * factor}; }
UNI_EXPORT(midpoint);
UNI_EXPORT(scaled);
)";

TEST(ModuleHelper, BuildsAModuleOutsideTheRepositoryWhoseStructsTravelAsJson) {
  TestCluster cluster;
  std::filesystem::path project = cluster.dir() / "shapes";
  std::filesystem::create_directories(project);
  std::string cmake_lists = kProject;
  cmake_lists.replace(cmake_lists.find("${UNI_REPO}"), 11, UNI_SOURCE_DIR);
  cluster.dir().write("shapes/CMakeLists.txt", cmake_lists);
  cluster.dir().write("shapes/shapes.cpp", kSource);
  std::filesystem::path build = project / "build";
  CommandOptions slow{.timeout = 300s, .cluster_env = false};
  CommandResult configure =
      cluster.run({UNI_CMAKE_COMMAND, "-S", project.string(), "-B", build.string()}, slow);
  ASSERT_EQ(configure.exit_code, 0) << configure.describe();
  CommandResult compile = cluster.run({UNI_CMAKE_COMMAND, "--build", build.string()}, slow);
  ASSERT_EQ(compile.exit_code, 0) << compile.describe();
  const std::string module = (build / "libshapes.so").string();
  ASSERT_TRUE(std::filesystem::exists(module)) << compile.describe();

  CommandResult mid = cluster.uni({"run", module, "midpoint", "[0,0]", "[4,6]"});
  EXPECT_EQ(mid.exit_code, 0) << mid.describe();
  EXPECT_EQ(json::parse(mid.out, nullptr, false), json::parse("[2,3]")) << mid.describe();
  CommandResult size = cluster.uni({"run", module, "scaled", R"({"height":3,"width":2})", "10"});
  EXPECT_EQ(size.exit_code, 0) << size.describe();
  EXPECT_EQ(json::parse(size.out, nullptr, false), json::parse(R"({"width":20,"height":30})"))
      << size.describe();
  // The other kind of JSON for either struct is refused with the argument's position.
  CommandResult wrong = cluster.uni({"run", module, "scaled", "[2,3]", "10"});
  EXPECT_EQ(wrong.exit_code, 1) << wrong.describe();
  EXPECT_NE(wrong.err.find("argument 1"), std::string::npos) << wrong.describe();
  CommandResult object = cluster.uni({"run", module, "midpoint", R"({"x":0,"y":0})", "[4,6]"});
  EXPECT_EQ(object.exit_code, 1) << object.describe();
  EXPECT_NE(object.err.find("argument 1"), std::string::npos) << object.describe();
}

}  // namespace
}  // namespace uni::test
