// Proves src/worker/module_loader.hpp: a built module loads and lists its exports; invoke returns
// results, names unknown functions and bad arguments with the signature; non-modules do not load.
#include <dlfcn.h>
#include <gtest/gtest.h>
#include <sodium.h>

#include <cstdint>
#include <string>
#include <tuple>

#include "uni/detail/platform.hpp"
#include "uni/detail/types.hpp"
#include "worker/module_loader.hpp"

namespace {

using uni::proto::Status;
using uni::worker::invoke;
using uni::worker::LoadedModule;
using uni::worker::ModuleLoadError;

const std::string kModule = std::string(UNI_MODULE_DIR) + "/libfactorial.so";

template <class... Args>
std::string args(const Args&... values) {
  msgpack::sbuffer buffer;
  msgpack::pack(buffer, std::make_tuple(values...));
  return std::string(buffer.data(), buffer.size());
}

std::string load_error(const std::string& path) {
  try {
    LoadedModule::open(path);
    return "";
  } catch (const ModuleLoadError& e) {
    return e.what();
  }
}

TEST(ModuleLoader, OpensAModuleAndListsItsExports) {
  auto module = LoadedModule::open(kModule);
  ASSERT_NE(module, nullptr);
  EXPECT_EQ(module->table().abi_version, UNI_MODULE_ABI_VERSION);
  EXPECT_STREQ(module->table().platform, UNI_PLATFORM_TAG);
  EXPECT_EQ(module->export_names(), "factorial");
  const uni_export* e = module->find("factorial");
  ASSERT_NE(e, nullptr);
  EXPECT_STREQ(e->name, "factorial");
  EXPECT_STREQ(e->signature, "unsigned long factorial(int)");
  EXPECT_NE(e->address, nullptr);
  EXPECT_EQ(module->find("Factorial"), nullptr);
  EXPECT_EQ(module->find(""), nullptr);
  EXPECT_EQ(module->find("factorial2"), nullptr);
}

TEST(ModuleLoader, InvokeReturnsTheResult) {
  auto module = LoadedModule::open(kModule);
  auto out = invoke(*module, "factorial", args(20));
  ASSERT_EQ(out.status, Status::kOk) << out.payload;
  msgpack::object_handle h = msgpack::unpack(out.payload.data(), out.payload.size());
  EXPECT_EQ(h.get().as<std::uint64_t>(), 2432902008176640000ull);
  out = invoke(*module, "factorial", args(0));
  ASSERT_EQ(out.status, Status::kOk) << out.payload;
  EXPECT_EQ(msgpack::unpack(out.payload.data(), out.payload.size()).get().as<std::uint64_t>(), 1u);
}

TEST(ModuleLoader, ExceptionsBecomeTaskErrors) {
  auto module = LoadedModule::open(kModule);
  auto out = invoke(*module, "factorial", args(21));
  EXPECT_EQ(out.status, Status::kException);
  EXPECT_EQ(out.payload, "factorial(21): n must be between 0 and 20");
}

TEST(ModuleLoader, UnknownFunctionListsTheExports) {
  auto module = LoadedModule::open(kModule);
  auto out = invoke(*module, "fib", args(3));
  EXPECT_EQ(out.status, Status::kUnknownFunction);
  EXPECT_EQ(out.payload, "unknown function 'fib': the module exports factorial");
}

TEST(ModuleLoader, BadArgumentsNameTheArgumentAndTheSignature) {
  auto module = LoadedModule::open(kModule);
  auto out = invoke(*module, "factorial", args(std::string("ten")));
  EXPECT_EQ(out.status, Status::kBadArguments);
  EXPECT_EQ(out.payload,
            "factorial: argument 1: expected integer, got string (signature: unsigned long "
            "factorial(int))");
  out = invoke(*module, "factorial", args(1, 2));
  EXPECT_EQ(out.status, Status::kBadArguments);
  EXPECT_NE(out.payload.find("expected 1 argument, got 2"), std::string::npos) << out.payload;
  out = invoke(*module, "factorial", args(std::int64_t{5000000000}));
  EXPECT_EQ(out.status, Status::kBadArguments);
  EXPECT_NE(out.payload.find("5000000000"), std::string::npos) << out.payload;
  out = invoke(*module, "factorial", std::string("\xc1", 1));
  EXPECT_EQ(out.status, Status::kBadArguments);
  EXPECT_NE(out.payload.find("not valid msgpack"), std::string::npos) << out.payload;
  out = invoke(*module, "factorial", "");
  EXPECT_EQ(out.status, Status::kBadArguments);
}

TEST(ModuleLoader, TwoHandlesOfOneModule) {
  auto a = LoadedModule::open(kModule);
  auto b = LoadedModule::open(kModule);
  a.reset();  // dlclose of one handle leaves the other usable
  auto out = invoke(*b, "factorial", args(5));
  ASSERT_EQ(out.status, Status::kOk) << out.payload;
  EXPECT_EQ(msgpack::unpack(out.payload.data(), out.payload.size()).get().as<int>(), 120);
}

TEST(ModuleLoader, NonModulesFailWithModuleLoadError) {
  Dl_info info{};
  ASSERT_NE(::dladdr(reinterpret_cast<const void*>(&sodium_init), &info), 0);
  std::string error = load_error(info.dli_fname);
  EXPECT_NE(error.find("not a uni module"), std::string::npos) << error;
  EXPECT_NE(error.find("uni_module_v1"), std::string::npos) << error;

  error = load_error("/nonexistent/libnothing.so");
  EXPECT_NE(error.find("cannot load module"), std::string::npos) << error;
  EXPECT_NE(error.find("/nonexistent/libnothing.so"), std::string::npos) << error;

  error = load_error("/etc/passwd");
  EXPECT_NE(error.find("cannot load module"), std::string::npos) << error;
}

}  // namespace
