// Proves uni/detail/types.hpp: checked msgpack decoding of every supported parameter type,
// with error messages that say where and what, and the spelling of types in signatures.
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

#include "uni/detail/export_info.hpp"
#include "uni/detail/types.hpp"

namespace {

using uni::detail::decode;
using uni::detail::decode_arguments;
using uni::detail::type_name;

struct Point {
  int x = 0;
  int y = 0;
  MSGPACK_DEFINE(x, y);
};

struct Segment {
  std::string name;
  Point a;
  Point b;
  MSGPACK_DEFINE(name, a, b);
};

// Packs values into one msgpack buffer and keeps the unpacked object alive.
class Packed {
 public:
  template <class T>
  explicit Packed(const T& value) {
    msgpack::pack(buffer_, value);
    handle_ = msgpack::unpack(buffer_.data(), buffer_.size());
  }
  const msgpack::object& get() const { return handle_.get(); }

 private:
  msgpack::sbuffer buffer_;
  msgpack::object_handle handle_;
};

Packed bin(std::string_view bytes) {
  return Packed(msgpack::type::raw_ref(bytes.data(), static_cast<std::uint32_t>(bytes.size())));
}

// decode<T> that returns the value, or the error text in `error`.
template <class T>
std::optional<T> try_decode(const Packed& p, std::string* error = nullptr) {
  T out{};
  std::string e;
  if (decode(p.get(), out, e)) return out;
  if (error) *error = e;
  return std::nullopt;
}

template <class T, class V>
std::string error_of(const V& value) {
  std::string error;
  EXPECT_FALSE(try_decode<T>(Packed(value), &error).has_value())
      << "decoding into " << type_name<T>() << " should fail";
  return error;
}

template <class T>
std::string error_of_packed(const Packed& p) {
  std::string error;
  EXPECT_FALSE(try_decode<T>(p, &error).has_value())
      << "decoding into " << type_name<T>() << " should fail";
  return error;
}

// ---- integers ---------------------------------------------------------------------------

TEST(TypesIntegers, DecodeInRangeValues) {
  EXPECT_EQ(try_decode<int>(Packed(42)), 42);
  EXPECT_EQ(try_decode<int>(Packed(-42)), -42);
  EXPECT_EQ(try_decode<int>(Packed(std::numeric_limits<int>::max())),
            std::numeric_limits<int>::max());
  EXPECT_EQ(try_decode<int>(Packed(std::numeric_limits<int>::min())),
            std::numeric_limits<int>::min());
  EXPECT_EQ(try_decode<std::uint8_t>(Packed(255)), 255);
  EXPECT_EQ(try_decode<std::int8_t>(Packed(-128)), -128);
  EXPECT_EQ(try_decode<std::uint64_t>(Packed(std::numeric_limits<std::uint64_t>::max())),
            std::numeric_limits<std::uint64_t>::max());
  EXPECT_EQ(try_decode<std::int64_t>(Packed(std::numeric_limits<std::int64_t>::min())),
            std::numeric_limits<std::int64_t>::min());
  EXPECT_EQ(try_decode<short>(Packed(-32768)), -32768);
  EXPECT_EQ(try_decode<unsigned>(Packed(0)), 0u);
}

TEST(TypesIntegers, TooLargeForIntFailsWithMessage) {
  std::string error = error_of<int>(std::int64_t{5000000000});
  EXPECT_NE(error.find("int"), std::string::npos) << error;
  EXPECT_NE(error.find("5000000000"), std::string::npos) << error;
}

TEST(TypesIntegers, TooSmallForIntFailsWithMessage) {
  std::string error = error_of<int>(std::int64_t{-5000000000});
  EXPECT_NE(error.find("-5000000000"), std::string::npos) << error;
}

TEST(TypesIntegers, NegativeIntoUnsignedFails) {
  std::string error = error_of<unsigned>(-1);
  EXPECT_NE(error.find("unsigned int"), std::string::npos) << error;
  EXPECT_NE(error.find("-1"), std::string::npos) << error;
  EXPECT_FALSE(try_decode<std::uint64_t>(Packed(-1)).has_value());
  EXPECT_FALSE(try_decode<std::uint8_t>(Packed(-1)).has_value());
}

TEST(TypesIntegers, OutOfRangeForSmallTypesFails) {
  EXPECT_FALSE(try_decode<std::uint8_t>(Packed(256)).has_value());
  EXPECT_FALSE(try_decode<std::int8_t>(Packed(128)).has_value());
  EXPECT_FALSE(try_decode<std::int8_t>(Packed(-129)).has_value());
  EXPECT_FALSE(try_decode<short>(Packed(40000)).has_value());
  EXPECT_FALSE(try_decode<std::int64_t>(Packed(std::uint64_t{1} << 63)).has_value());
}

TEST(TypesIntegers, NonIntegersAreRejectedByKind) {
  EXPECT_EQ(error_of<int>(std::string("3")), "expected integer, got string");
  EXPECT_EQ(error_of<int>(2.5), "expected integer, got float");
  EXPECT_EQ(error_of<int>(true), "expected integer, got boolean");
  EXPECT_EQ(error_of<int>(msgpack::type::nil_t()), "expected integer, got nil");
  EXPECT_EQ(error_of<int>(std::vector<int>{1}), "expected integer, got array");
  EXPECT_EQ(error_of<int>(std::map<int, int>{{1, 2}}), "expected integer, got map");
  EXPECT_EQ(error_of_packed<int>(bin("ab")), "expected integer, got binary");
}

// ---- floating point, bool --------------------------------------------------------------

TEST(TypesFloats, AcceptFloatsAndIntegers) {
  EXPECT_EQ(try_decode<double>(Packed(2.5)), 2.5);
  EXPECT_EQ(try_decode<double>(Packed(3)), 3.0);
  EXPECT_EQ(try_decode<double>(Packed(-3)), -3.0);
  EXPECT_EQ(try_decode<float>(Packed(1.5f)), 1.5f);
  EXPECT_EQ(try_decode<float>(Packed(7)), 7.0f);
}

TEST(TypesFloats, RejectNonNumbers) {
  EXPECT_EQ(error_of<double>(std::string("2.5")), "expected number, got string");
  EXPECT_EQ(error_of<double>(false), "expected number, got boolean");
}

TEST(TypesBool, OnlyBooleans) {
  EXPECT_EQ(try_decode<bool>(Packed(true)), true);
  EXPECT_EQ(try_decode<bool>(Packed(false)), false);
  EXPECT_EQ(error_of<bool>(1), "expected boolean, got integer");
  EXPECT_EQ(error_of<bool>(msgpack::type::nil_t()), "expected boolean, got nil");
}

// ---- strings and bytes -------------------------------------------------------------------

TEST(TypesString, FromStrAndBin) {
  EXPECT_EQ(try_decode<std::string>(Packed(std::string("hello"))), "hello");
  EXPECT_EQ(try_decode<std::string>(Packed(std::string())), "");
  EXPECT_EQ(try_decode<std::string>(bin(std::string("a\0b", 3))), std::string("a\0b", 3));
  EXPECT_EQ(error_of<std::string>(3), "expected string, got integer");
}

TEST(TypesVector, OfIntegers) {
  EXPECT_EQ(try_decode<std::vector<int>>(Packed(std::vector<int>{1, -2, 3})),
            (std::vector<int>{1, -2, 3}));
  EXPECT_EQ(try_decode<std::vector<int>>(Packed(std::vector<int>{})), std::vector<int>{});
  EXPECT_EQ(error_of<std::vector<int>>(3), "expected array, got integer");
}

TEST(TypesVector, BytesFromBinOrArray) {
  std::string raw("\x00\x01\xff", 3);
  EXPECT_EQ(try_decode<std::vector<std::uint8_t>>(bin(raw)),
            (std::vector<std::uint8_t>{0, 1, 255}));
  EXPECT_EQ(try_decode<std::vector<std::int8_t>>(bin(raw)), (std::vector<std::int8_t>{0, 1, -1}));
  EXPECT_EQ(try_decode<std::vector<std::uint8_t>>(Packed(std::vector<int>{7, 8})),
            (std::vector<std::uint8_t>{7, 8}));
  // A binary is not an array of ints wider than a byte.
  EXPECT_EQ(error_of_packed<std::vector<int>>(bin(raw)), "expected array, got binary");
  // Elements of a byte array are range-checked.
  std::string error = error_of<std::vector<std::uint8_t>>(std::vector<int>{1, 300});
  EXPECT_EQ(error.rfind("element 2: ", 0), 0u) << error;
}

TEST(TypesVector, NestedErrorNamesTheElement) {
  std::tuple<int, int, std::string> mixed{1, 2, "three"};
  EXPECT_EQ(error_of<std::vector<int>>(mixed), "element 3: expected integer, got string");
  std::vector<std::vector<int>> nested{{1}, {2, 3}};
  auto ok = try_decode<std::vector<std::vector<int>>>(Packed(nested));
  EXPECT_EQ(ok, nested);
  std::tuple<std::vector<int>, std::tuple<int, bool>> bad{{1}, {2, true}};
  EXPECT_EQ(error_of<std::vector<std::vector<int>>>(bad),
            "element 2: element 2: expected integer, got boolean");
}

TEST(TypesArray, ExactLength) {
  EXPECT_EQ((try_decode<std::array<int, 3>>(Packed(std::vector<int>{1, 2, 3}))),
            (std::array<int, 3>{1, 2, 3}));
  EXPECT_EQ((error_of<std::array<int, 3>>(std::vector<int>{1, 2})),
            "expected array of 3 elements, got array of 2");
  EXPECT_EQ((error_of<std::array<int, 3>>(std::vector<int>{1, 2, 3, 4})),
            "expected array of 3 elements, got array of 4");
  EXPECT_EQ((error_of<std::array<int, 2>>(std::string("ab"))),
            "expected array of 2 elements, got string");
  EXPECT_EQ((error_of<std::array<int, 2>>(std::tuple<int, double>{1, 2.5})),
            "element 2: expected integer, got float");
}

// ---- maps -----------------------------------------------------------------------------------

TEST(TypesMap, StdMapAndUnorderedMap) {
  std::map<std::string, int> m{{"a", 1}, {"b", 2}};
  EXPECT_EQ((try_decode<std::map<std::string, int>>(Packed(m))), m);
  std::unordered_map<int, std::string> u{{1, "x"}, {-2, "y"}};
  EXPECT_EQ((try_decode<std::unordered_map<int, std::string>>(Packed(u))), u);
  EXPECT_EQ((try_decode<std::map<int, int>>(Packed(std::map<int, int>{}))), (std::map<int, int>{}));
}

TEST(TypesMap, ErrorsNameKeyOrValue) {
  EXPECT_EQ((error_of<std::map<std::string, int>>(std::vector<int>{1})), "expected map, got array");
  std::map<std::string, std::string> bad_value{{"a", "x"}};
  EXPECT_EQ((error_of<std::map<std::string, int>>(bad_value)),
            "value 1: expected integer, got string");
  std::map<int, int> bad_key{{1, 2}};
  EXPECT_EQ((error_of<std::map<std::string, int>>(bad_key)), "key 1: expected string, got integer");
}

// ---- optional, tuple, pair ----------------------------------------------------------------

TEST(TypesOptional, NilIsEmpty) {
  auto empty = try_decode<std::optional<int>>(Packed(msgpack::type::nil_t()));
  ASSERT_TRUE(empty.has_value());
  EXPECT_FALSE(empty->has_value());
  auto full = try_decode<std::optional<int>>(Packed(5));
  ASSERT_TRUE(full.has_value());
  EXPECT_EQ(*full, 5);
  EXPECT_EQ(error_of<std::optional<int>>(std::string("x")), "expected integer, got string");
}

TEST(TypesTuple, ExactLengthAndElementErrors) {
  std::tuple<int, std::string, bool> t{1, "a", true};
  EXPECT_EQ((try_decode<std::tuple<int, std::string, bool>>(Packed(t))), t);
  EXPECT_EQ((error_of<std::tuple<int, std::string>>(std::vector<int>{1})),
            "expected array of 2 elements, got array of 1");
  EXPECT_EQ((error_of<std::tuple<int, std::string>>(std::tuple<int, std::string, int>{1, "a", 2})),
            "expected array of 2 elements, got array of 3");
  EXPECT_EQ((error_of<std::tuple<int, std::string>>(std::tuple<int, int>{1, 2})),
            "element 2: expected string, got integer");
  EXPECT_EQ((error_of<std::tuple<int>>(7)), "expected array of 1 elements, got integer");
}

TEST(TypesPair, ExactLength) {
  std::pair<int, std::string> p{3, "x"};
  EXPECT_EQ((try_decode<std::pair<int, std::string>>(Packed(p))), p);
  EXPECT_EQ((error_of<std::pair<int, int>>(std::vector<int>{1, 2, 3})),
            "expected array of 2 elements, got array of 3");
  EXPECT_EQ((error_of<std::pair<int, int>>(std::tuple<int, bool>{1, false})),
            "element 2: expected integer, got boolean");
}

// ---- MSGPACK_DEFINE structs ------------------------------------------------------------

TEST(TypesStruct, DecodesMatchingArray) {
  auto p = try_decode<Point>(Packed(std::tuple<int, int>{3, -4}));
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->x, 3);
  EXPECT_EQ(p->y, -4);
}

TEST(TypesStruct, WrongLengthIsRejected) {
  std::string shorter = error_of<Point>(std::vector<int>{1});
  EXPECT_NE(shorter.find("Point"), std::string::npos) << shorter;
  EXPECT_NE(shorter.find("2 elements"), std::string::npos) << shorter;
  EXPECT_NE(shorter.find("array of 1"), std::string::npos) << shorter;
  std::string longer = error_of<Point>(std::vector<int>{1, 2, 3});
  EXPECT_NE(longer.find("array of 3"), std::string::npos) << longer;
}

TEST(TypesStruct, WrongKindAndWrongFieldTypeAreRejected) {
  std::string kind = error_of<Point>(5);
  EXPECT_NE(kind.find("Point"), std::string::npos) << kind;
  EXPECT_NE(kind.find("got integer"), std::string::npos) << kind;
  std::string field = error_of<Point>(std::tuple<int, std::string>{1, "y"});
  EXPECT_NE(field.find("Point"), std::string::npos) << field;
  // A field out of range is not silently truncated.
  EXPECT_FALSE(try_decode<Point>(Packed(std::tuple<int, std::int64_t>{1, 5000000000})).has_value());
}

TEST(TypesStruct, VectorOfStructsChecksEachElement) {
  std::vector<Point> points{{1, 2}, {3, 4}};
  auto ok = try_decode<std::vector<Point>>(Packed(points));
  ASSERT_TRUE(ok.has_value());
  ASSERT_EQ(ok->size(), 2u);
  EXPECT_EQ((*ok)[1].y, 4);
  std::tuple<std::tuple<int, int>, std::tuple<int>> bad{{1, 2}, {3}};
  std::string error = error_of<std::vector<Point>>(bad);
  EXPECT_EQ(error.rfind("element 2: ", 0), 0u) << error;
}

// A struct nested inside a struct is a parameter type like any other: an array of the
// wrong length for the inner struct must not be default-filled either.
TEST(TypesStruct, NestedStructOfWrongLengthIsRejected) {
  Segment good{"s", {1, 2}, {3, 4}};
  auto ok = try_decode<Segment>(Packed(good));
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ(ok->b.y, 4);
  // b has one element instead of two: msgpack-cxx alone would make b = {3, 0}.
  std::tuple<std::string, std::tuple<int, int>, std::tuple<int>> bad{"s", {1, 2}, {3}};
  std::string error;
  auto decoded = try_decode<Segment>(Packed(bad), &error);
  EXPECT_FALSE(decoded.has_value()) << "inner Point decoded as {" << decoded->b.x << ", "
                                    << decoded->b.y << "} from a 1-element array";
}

// ---- arguments ----------------------------------------------------------------------------

TEST(TypesArguments, DecodesAllArguments) {
  std::tuple<int, std::string> args;
  std::string error;
  ASSERT_TRUE(decode_arguments(Packed(std::tuple<int, std::string>{7, "x"}).get(), args, error))
      << error;
  EXPECT_EQ(args, (std::tuple<int, std::string>{7, "x"}));
  std::tuple<> none;
  EXPECT_TRUE(decode_arguments(Packed(std::vector<int>{}).get(), none, error)) << error;
}

TEST(TypesArguments, NamesTheBadArgument) {
  std::tuple<int, int> args;
  std::string error;
  EXPECT_FALSE(decode_arguments(Packed(std::tuple<int, std::string>{1, "2"}).get(), args, error));
  EXPECT_EQ(error, "argument 2: expected integer, got string");
  EXPECT_FALSE(decode_arguments(Packed(std::tuple<std::string, int>{"1", 2}).get(), args, error));
  EXPECT_EQ(error, "argument 1: expected integer, got string");
  std::tuple<std::vector<int>> nested;
  EXPECT_FALSE(decode_arguments(
      Packed(std::tuple<std::tuple<int, int, std::string>>{{1, 2, "x"}}).get(), nested, error));
  EXPECT_EQ(error, "argument 1: element 3: expected integer, got string");
}

TEST(TypesArguments, CountMismatch) {
  std::tuple<int, int> two;
  std::string error;
  EXPECT_FALSE(decode_arguments(Packed(std::vector<int>{1, 2, 3}).get(), two, error));
  EXPECT_EQ(error, "expected 2 arguments, got 3");
  EXPECT_FALSE(decode_arguments(Packed(std::vector<int>{}).get(), two, error));
  EXPECT_EQ(error, "expected 2 arguments, got 0");
  std::tuple<int> one;
  EXPECT_FALSE(decode_arguments(Packed(std::vector<int>{1, 2}).get(), one, error));
  EXPECT_EQ(error, "expected 1 argument, got 2");
}

TEST(TypesArguments, NonArrayIsRejected) {
  std::tuple<int> one;
  std::string error;
  EXPECT_FALSE(decode_arguments(Packed(5).get(), one, error));
  EXPECT_EQ(error, "arguments must be an array, got integer");
  EXPECT_FALSE(decode_arguments(Packed(std::map<int, int>{{1, 1}}).get(), one, error));
  EXPECT_EQ(error, "arguments must be an array, got map");
}

// ---- type names and signatures ----------------------------------------------------------

std::uint64_t sample_factorial(int) { return 1; }
void sample_void(const std::string&, std::vector<double>) {}
std::map<std::string, std::vector<int>> sample_nested(std::optional<bool>,
                                                      std::pair<int, std::string>) noexcept {
  return {};
}
Point sample_struct(std::tuple<int, float>, std::array<std::uint8_t, 4>,
                    std::unordered_map<long long, short>) {
  return {};
}

TEST(TypesNames, Scalars) {
  EXPECT_EQ(type_name<int>(), "int");
  EXPECT_EQ(type_name<unsigned>(), "unsigned int");
  EXPECT_EQ(type_name<std::int64_t>(), "long");
  EXPECT_EQ(type_name<std::uint64_t>(), "unsigned long");
  EXPECT_EQ(type_name<bool>(), "bool");
  EXPECT_EQ(type_name<double>(), "double");
  EXPECT_EQ(type_name<float>(), "float");
  EXPECT_EQ(type_name<std::string>(), "std::string");
  EXPECT_EQ(type_name<const std::string&>(), "std::string");
  EXPECT_EQ(type_name<void>(), "void");
}

TEST(TypesNames, Containers) {
  EXPECT_EQ(type_name<std::vector<int>>(), "std::vector<int>");
  EXPECT_EQ((type_name<std::array<double, 3>>()), "std::array<double, 3>");
  EXPECT_EQ((type_name<std::map<std::string, int>>()), "std::map<std::string, int>");
  EXPECT_EQ((type_name<std::unordered_map<int, bool>>()), "std::unordered_map<int, bool>");
  EXPECT_EQ(type_name<std::optional<std::string>>(), "std::optional<std::string>");
  EXPECT_EQ((type_name<std::tuple<int, bool, std::string>>()),
            "std::tuple<int, bool, std::string>");
  EXPECT_EQ((type_name<std::pair<int, double>>()), "std::pair<int, double>");
  EXPECT_EQ(type_name<Point>(), "(anonymous namespace)::Point");
}

TEST(TypesNames, Signatures) {
  using uni::detail::FunctionTraits;
  EXPECT_EQ(FunctionTraits<decltype(&sample_factorial)>::signature("factorial"),
            "unsigned long factorial(int)");
  EXPECT_EQ(FunctionTraits<decltype(&sample_void)>::signature("f"),
            "void f(std::string, std::vector<double>)");
  EXPECT_EQ(FunctionTraits<decltype(&sample_nested)>::signature("g"),
            "std::map<std::string, std::vector<int>> g(std::optional<bool>, std::pair<int, "
            "std::string>)");
  EXPECT_EQ(FunctionTraits<decltype(&sample_struct)>::signature("h"),
            "(anonymous namespace)::Point h(std::tuple<int, float>, std::array<unsigned char, 4>, "
            "std::unordered_map<long long, short>)");
  EXPECT_EQ(FunctionTraits<decltype(sample_factorial)>::signature("plain"),
            "unsigned long plain(int)");
  EXPECT_EQ(FunctionTraits<decltype(&sample_factorial)>::arity, 1u);
  EXPECT_EQ(FunctionTraits<decltype(&sample_void)>::arity, 2u);
  static_assert(std::is_same_v<FunctionTraits<decltype(&sample_void)>::ArgsTuple,
                               std::tuple<std::string, std::vector<double>>>);
}

}  // namespace

namespace {

using uni::detail::check_msgpack;

std::string bytes(std::initializer_list<unsigned char> b) {
  return std::string(b.begin(), b.end());
}

TEST(CheckMsgpack, ClaimsAreBoundedByTheBytesLeft) {
  // [1, 2]: two elements, two bytes left after the header.
  EXPECT_EQ(check_msgpack(bytes({0x92, 0x01, 0x02}).data(), 3), "");
  // [[1], 2]: the inner array's element and the outer's second share the last two bytes.
  EXPECT_EQ(check_msgpack(bytes({0x92, 0x91, 0x01, 0x02}).data(), 4), "");
  // An array16 of 3 with two bytes left claims more than the bytes can hold.
  EXPECT_EQ(check_msgpack(bytes({0xdc, 0x00, 0x03, 0x01, 0x02}).data(), 5),
            "msgpack claims more elements than it has bytes");
  // [[x, x], 2] where the inner array leaves no byte for the outer's second element.
  EXPECT_EQ(check_msgpack(bytes({0x92, 0x92, 0x01, 0x02}).data(), 4),
            "msgpack claims more elements than it has bytes");
  // A map's entries count twice.
  EXPECT_EQ(check_msgpack(bytes({0x81, 0x01}).data(), 2),
            "msgpack claims more elements than it has bytes");
}

TEST(CheckMsgpack, TruncationTrailingBytesAndDepth) {
  EXPECT_EQ(check_msgpack(bytes({0xa3, 'a', 'b'}).data(), 3), "truncated msgpack");
  EXPECT_EQ(check_msgpack(bytes({0xcd, 0x01}).data(), 2), "truncated msgpack");
  EXPECT_EQ(check_msgpack(bytes({0x01, 0x02}).data(), 2), "trailing bytes after the msgpack value");
  EXPECT_EQ(check_msgpack(bytes({0xc1}).data(), 1), "invalid msgpack type byte");
  std::string nested(5, static_cast<char>(0x91));
  nested += '\x01';
  EXPECT_EQ(check_msgpack(nested.data(), nested.size(), 4), "msgpack nested too deeply");
  EXPECT_EQ(check_msgpack(nested.data(), nested.size(), 5), "");
}

// The compile-time spelling (.uni_exports) of each supported type equals the
// run-time one (the worker's signatures), and its descriptor is as documented
// in docs/protocol.md §15.5.
template <class T>
void expect_type_info(const std::string& desc) {
  using Info = uni::detail::TypeInfo<T>;
  EXPECT_EQ(std::string(Info::cpp.view()), type_name<T>());
  EXPECT_EQ(std::string(Info::desc.view()), desc) << type_name<T>();
}

namespace geo {
template <int N>
struct Vec {
  int v[N];
};
}  // namespace geo

TEST(TypesCompileTimeNames, MatchTheRunTimeNamesAndTheDocumentedDescriptors) {
  expect_type_info<bool>("bool");
  expect_type_info<char>(std::is_signed_v<char> ? "i8:char" : "u8:char");
  expect_type_info<signed char>("i8:signed char");
  expect_type_info<unsigned char>("u8:unsigned char");
  expect_type_info<short>("i16:short");
  expect_type_info<unsigned short>("u16:unsigned short");
  expect_type_info<int>("i32:int");
  expect_type_info<unsigned>("u32:unsigned int");
  expect_type_info<long>("i64:long");
  expect_type_info<unsigned long>("u64:unsigned long");
  expect_type_info<long long>("i64:long long");
  expect_type_info<unsigned long long>("u64:unsigned long long");
  expect_type_info<std::int64_t>("i64:long");
  expect_type_info<char32_t>("u32:char32_t");
  expect_type_info<float>("f32:float");
  expect_type_info<double>("f64:double");
  expect_type_info<long double>("f" + std::to_string(8 * sizeof(long double)) + ":long double");
  expect_type_info<std::string>("string");
  expect_type_info<std::vector<int>>("vector<i32:int>");
  expect_type_info<std::vector<std::uint8_t>>("vector<u8:unsigned char>");
  expect_type_info<std::array<double, 3>>("array<f64:double,3>");
  expect_type_info<std::map<std::string, std::vector<int>>>("map<string,vector<i32:int>>");
  expect_type_info<std::unordered_map<int, bool>>("map<i32:int,bool>");
  expect_type_info<std::optional<std::string>>("optional<string>");
  expect_type_info<std::tuple<int, std::string, double>>("tuple<i32:int,string,f64:double>");
  expect_type_info<std::tuple<>>("tuple<>");
  expect_type_info<std::pair<int, bool>>("tuple<i32:int,bool>");
  expect_type_info<Point>("user<28:(anonymous namespace)::Point>");
  expect_type_info<std::vector<Segment>>("vector<user<30:(anonymous namespace)::Segment>>");
  expect_type_info<geo::Vec<3>>("user<34:(anonymous namespace)::geo::Vec<3>>");
}

}  // namespace
