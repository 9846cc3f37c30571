// Proves the invoker that UNI_EXPORT generates (uni/module.hpp): msgpack arguments in, one emit
// out: OK with the encoded result (nil for void), BAD_ARGS naming the argument, THREW with what().
#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "common/files.hpp"
#include "common/module_file.hpp"
#include "uni/module.hpp"

namespace {

struct Point {
  int x = 0;
  int y = 0;
  MSGPACK_DEFINE(x, y);
};

struct NotAnException {};

int add(int a, int b) { return a + b; }
std::string greet(const std::string& name, int times) {
  std::string out;
  for (int i = 0; i < times; ++i) out += "hello " + name + ";";
  return out;
}
int side_effect = 0;
void remember(int value) { side_effect = value; }
std::uint64_t sum_bytes(std::vector<std::uint8_t> bytes) {
  std::uint64_t sum = 0;
  for (std::uint8_t b : bytes) sum += b;
  return sum;
}
Point mirror(Point p) { return {p.y, p.x}; }
std::map<std::string, int> count_words(std::vector<std::string> words) noexcept {
  std::map<std::string, int> out;
  for (const auto& w : words) ++out[w];
  return out;
}
int throws_std(int n) {
  if (n > 0) throw std::domain_error("n must not be positive, got " + std::to_string(n));
  return n;
}
int throws_int() { throw 42; }
int throws_custom() { throw NotAnException{}; }
std::string throws_bad_alloc() { throw std::bad_alloc(); }
int no_args() { return 7; }
double half(int n) { return n / 2.0; }

}  // namespace

UNI_EXPORT(add);
UNI_EXPORT(greet);
UNI_EXPORT(remember);
UNI_EXPORT(sum_bytes);
UNI_EXPORT(mirror);
UNI_EXPORT(count_words);
UNI_EXPORT(throws_std);
UNI_EXPORT(throws_int);
UNI_EXPORT(throws_custom);
UNI_EXPORT(throws_bad_alloc);
UNI_EXPORT(no_args);
UNI_EXPORT(half);

namespace {

struct Emitted {
  int calls = 0;
  int status = -1;
  std::string data;
};

void capture(void* ctx, int status, const char* data, std::size_t size) {
  auto* out = static_cast<Emitted*>(ctx);
  ++out->calls;
  out->status = status;
  out->data.assign(data, size);
}

const uni_export* find_export(std::string_view name) {
  const uni_module_table* table = uni::detail::ExportRegistry::instance().table();
  for (std::size_t i = 0; i < table->count; ++i)
    if (name == table->exports[i].name) return &table->exports[i];
  return nullptr;
}

Emitted call_raw(std::string_view name, std::string_view args) {
  Emitted out;
  const uni_export* e = find_export(name);
  if (!e) {
    ADD_FAILURE() << "no export named " << name;
    return out;
  }
  e->invoke(args.data(), args.size(), &out, &capture);
  EXPECT_EQ(out.calls, 1) << "emit must be called exactly once";
  return out;
}

template <class... Args>
Emitted call(std::string_view name, const Args&... args) {
  msgpack::sbuffer buffer;
  msgpack::pack(buffer, std::make_tuple(args...));
  return call_raw(name, std::string_view(buffer.data(), buffer.size()));
}

template <class T>
T result_of(const Emitted& e) {
  EXPECT_EQ(e.status, UNI_INVOKE_OK) << e.data;
  msgpack::object_handle h = msgpack::unpack(e.data.data(), e.data.size());
  T out{};
  std::string error;
  EXPECT_TRUE(uni::detail::decode(h.get(), out, error)) << error;
  return out;
}

TEST(InvokerTable, ListsExportsWithSignaturesAndAddresses) {
  const uni_module_table* table = uni::detail::ExportRegistry::instance().table();
  EXPECT_EQ(table->abi_version, UNI_MODULE_ABI_VERSION);
  EXPECT_STREQ(table->platform, UNI_PLATFORM_TAG);
  EXPECT_EQ(table->count, 12u);
  ASSERT_NE(find_export("add"), nullptr);
  EXPECT_STREQ(find_export("add")->signature, "int add(int, int)");
  EXPECT_EQ(find_export("add")->address, reinterpret_cast<const void*>(&add));
  EXPECT_STREQ(find_export("greet")->signature, "std::string greet(std::string, int)");
  EXPECT_STREQ(find_export("remember")->signature, "void remember(int)");
  EXPECT_STREQ(find_export("sum_bytes")->signature,
               "unsigned long sum_bytes(std::vector<unsigned char>)");
  EXPECT_STREQ(find_export("no_args")->signature, "int no_args()");
  // The entry point a loader looks up returns the same table.
  EXPECT_EQ(uni_module_v1(), table);
}

TEST(InvokerOk, ResultsDecode) {
  EXPECT_EQ(result_of<int>(call("add", 2, 40)), 42);
  EXPECT_EQ(result_of<int>(call("add", -2, -40)), -42);
  EXPECT_EQ(result_of<std::string>(call("greet", std::string("bob"), 2)), "hello bob;hello bob;");
  EXPECT_EQ(result_of<int>(call_raw("no_args", "\x90")), 7);
  EXPECT_EQ(result_of<std::uint64_t>(call("sum_bytes", std::vector<int>{1, 2, 250})), 253u);
  Point p = result_of<Point>(call("mirror", Point{1, 2}));
  EXPECT_EQ(p.x, 2);
  EXPECT_EQ(p.y, 1);
  auto counts = result_of<std::map<std::string, int>>(
      call("count_words", std::vector<std::string>{"a", "b", "a"}));
  EXPECT_EQ(counts, (std::map<std::string, int>{{"a", 2}, {"b", 1}}));
}

TEST(InvokerOk, BytesArriveAsBinary) {
  msgpack::sbuffer buffer;
  msgpack::packer<msgpack::sbuffer> packer(buffer);
  packer.pack_array(1);
  packer.pack_bin(3);
  packer.pack_bin_body("\x01\x02\xff", 3);
  EXPECT_EQ(result_of<std::uint64_t>(call_raw("sum_bytes", {buffer.data(), buffer.size()})), 258u);
}

// A double result is a msgpack float on the wire even when its value is whole: a JSON client
// or another language must see 2.0, not the integer 2.
TEST(InvokerOk, DoubleResultsStayFloats) {
  Emitted e = call("half", 3);
  ASSERT_EQ(e.status, UNI_INVOKE_OK) << e.data;
  msgpack::object_handle h = msgpack::unpack(e.data.data(), e.data.size());
  EXPECT_EQ(h.get().type, msgpack::type::FLOAT64);
  EXPECT_EQ(result_of<double>(e), 1.5);
  e = call("half", 4);
  ASSERT_EQ(e.status, UNI_INVOKE_OK) << e.data;
  h = msgpack::unpack(e.data.data(), e.data.size());
  EXPECT_EQ(h.get().type, msgpack::type::FLOAT64)
      << "half(4) = 2.0 was sent as msgpack type " << static_cast<int>(h.get().type);
  EXPECT_EQ(result_of<double>(e), 2.0);
}

TEST(InvokerOk, VoidReturnsNil) {
  side_effect = 0;
  Emitted e = call("remember", 17);
  ASSERT_EQ(e.status, UNI_INVOKE_OK) << e.data;
  EXPECT_EQ(side_effect, 17);
  msgpack::object_handle h = msgpack::unpack(e.data.data(), e.data.size());
  EXPECT_EQ(h.get().type, msgpack::type::NIL);
}

TEST(InvokerBadArgs, WrongTypeNamesTheArgument) {
  Emitted e = call("add", 1, std::string("2"));
  EXPECT_EQ(e.status, UNI_INVOKE_BAD_ARGS);
  EXPECT_EQ(e.data, "argument 2: expected integer, got string");
  e = call("greet", 5, 1);
  EXPECT_EQ(e.status, UNI_INVOKE_BAD_ARGS);
  EXPECT_EQ(e.data, "argument 1: expected string, got integer");
  e = call("add", std::int64_t{5000000000}, 1);
  EXPECT_EQ(e.status, UNI_INVOKE_BAD_ARGS);
  EXPECT_EQ(e.data.rfind("argument 1: ", 0), 0u) << e.data;
  EXPECT_NE(e.data.find("5000000000"), std::string::npos) << e.data;
  e = call("sum_bytes", std::vector<int>{1, -1});
  EXPECT_EQ(e.status, UNI_INVOKE_BAD_ARGS);
  EXPECT_EQ(e.data.rfind("argument 1: element 2: ", 0), 0u) << e.data;
}

TEST(InvokerBadArgs, WrongCount) {
  Emitted e = call("add", 1, 2, 3);
  EXPECT_EQ(e.status, UNI_INVOKE_BAD_ARGS);
  EXPECT_EQ(e.data, "expected 2 arguments, got 3");
  e = call("remember");
  EXPECT_EQ(e.status, UNI_INVOKE_BAD_ARGS);
  EXPECT_EQ(e.data, "expected 1 argument, got 0");
  e = call("no_args", 1);
  EXPECT_EQ(e.status, UNI_INVOKE_BAD_ARGS);
  EXPECT_EQ(e.data, "expected 0 arguments, got 1");
}

TEST(InvokerBadArgs, NotAnArrayOrNotMsgpack) {
  Emitted e = call_raw("add", "\x05");  // the integer 5
  EXPECT_EQ(e.status, UNI_INVOKE_BAD_ARGS);
  EXPECT_EQ(e.data, "arguments must be an array, got integer");
  e = call_raw("add", "");
  EXPECT_EQ(e.status, UNI_INVOKE_BAD_ARGS);
  EXPECT_EQ(e.data.rfind("arguments are not valid msgpack", 0), 0u) << e.data;
  e = call_raw("add", "\x92\x01");  // array of 2 with one element
  EXPECT_EQ(e.status, UNI_INVOKE_BAD_ARGS);
  EXPECT_EQ(e.data.rfind("arguments are not valid msgpack", 0), 0u) << e.data;
  e = call_raw("add", "\xc1");  // a byte msgpack never uses
  EXPECT_EQ(e.status, UNI_INVOKE_BAD_ARGS);
  EXPECT_EQ(e.data.rfind("arguments are not valid msgpack", 0), 0u) << e.data;
}

// Arguments come off the network: like Message::parse, the invoker must refuse a count that
// the buffer cannot hold before reserving memory for it (not by running out of memory, which
// aborts a sanitizer build and is slow or fatal under memory limits).
TEST(InvokerBadArgs, HugeClaimedArrayInTinyBufferIsRejectedWithoutAllocating) {
  // array32 claiming 2^32-1 elements, then nothing.
  Emitted e = call_raw("add", std::string_view("\xdd\xff\xff\xff\xff", 5));
  EXPECT_EQ(e.status, UNI_INVOKE_BAD_ARGS);
  EXPECT_EQ(e.data.find("bad_alloc"), std::string::npos) << e.data;
  // An array of one map32 claiming 2^32-1 pairs.
  e = call_raw("add", std::string_view("\x91\xdf\xff\xff\xff\xff", 6));
  EXPECT_EQ(e.status, UNI_INVOKE_BAD_ARGS);
  EXPECT_EQ(e.data.find("bad_alloc"), std::string::npos) << e.data;
}

TEST(InvokerThrew, StdExceptionCarriesWhat) {
  EXPECT_EQ(result_of<int>(call("throws_std", -3)), -3);
  Emitted e = call("throws_std", 5);
  EXPECT_EQ(e.status, UNI_INVOKE_THREW);
  EXPECT_EQ(e.data, "n must not be positive, got 5");
}

TEST(InvokerThrew, OutOfMemorySaysSo) {
  Emitted e = call("throws_bad_alloc");
  EXPECT_EQ(e.status, UNI_INVOKE_THREW);
  EXPECT_EQ(e.data, std::string("out of memory (") + std::bad_alloc().what() + ")");
}

TEST(InvokerThrew, NonStdExceptionNamesItsType) {
  Emitted e = call("throws_int");
  EXPECT_EQ(e.status, UNI_INVOKE_THREW);
  EXPECT_EQ(e.data, "exception of type int");
  e = call("throws_custom");
  EXPECT_EQ(e.status, UNI_INVOKE_THREW);
  EXPECT_EQ(e.data, "exception of type (anonymous namespace)::NotAnException");
}

// The .uni_exports records UNI_EXPORT wrote at compile time (here into this test
// program) describe the same functions, with the same signatures, as the table
// a loader gets at run time.
TEST(InvokerTable, CompileTimeRecordsAgreeWithTheTable) {
  uni::ModuleExports exports =
      uni::read_module_exports(uni::read_file("/proc/self/exe"), "this test");
  ASSERT_TRUE(exports.described);
  const uni_module_table* table = uni::detail::ExportRegistry::instance().table();
  ASSERT_EQ(exports.functions.size(), table->count);
  for (const uni::ExportDescription& e : exports.functions) {
    const uni_export* in_table = find_export(e.name);
    ASSERT_NE(in_table, nullptr) << e.name;
    EXPECT_EQ(e.signature, in_table->signature);
  }
  auto described = [&](std::string_view name) {
    for (const auto& e : exports.functions)
      if (e.name == name) return e;
    return uni::ExportDescription{};
  };
  EXPECT_EQ(described("add").result, "i32:int");
  EXPECT_EQ(described("add").params, (std::vector<std::string>{"i32:int", "i32:int"}));
  EXPECT_EQ(described("greet").params, (std::vector<std::string>{"string", "i32:int"}));
  EXPECT_EQ(described("remember").result, "void");
  EXPECT_EQ(described("sum_bytes").params, std::vector<std::string>{"vector<u8:unsigned char>"});
  EXPECT_EQ(described("mirror").result, "user<28:(anonymous namespace)::Point>");
  EXPECT_EQ(described("mirror").signature,
            "(anonymous namespace)::Point mirror((anonymous namespace)::Point)");
  EXPECT_EQ(described("count_words").result, "map<string,i32:int>");
  EXPECT_TRUE(described("no_args").params.empty());
  EXPECT_EQ(described("half").result, "f64:double");
}

}  // namespace
