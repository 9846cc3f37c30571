// Proves src/common/json_msgpack.hpp: JSON <-> msgpack keeps integers, floats, signs and structure;
// binary, non-string keys and invalid UTF-8 become JSON without throwing; CLI arguments parse;
// what the wire cannot carry (nesting past its limit, numbers out of range) is an error, never a
// crash or a silent change.
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>

#include "common/json_msgpack.hpp"

namespace {

using nlohmann::json;
using uni::dump_json;
using uni::parse_cli_argument;
using uni::to_json;

std::string pack(const json& value) { return uni::json_to_msgpack(value); }

std::string hex_bytes(std::string_view hex) {
  std::string out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2)
    out += static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16));
  return out;
}

msgpack::object_handle unpack(const std::string& bytes) {
  return msgpack::unpack(bytes.data(), bytes.size());
}

json round_trip(const json& value) { return to_json(unpack(pack(value)).get()); }

TEST(JsonMsgpack, ScalarsRoundTrip) {
  for (const char* text :
       {"null", "true", "false", "0", "3", "-7", "2.5", "-0.125", "\"\"", "\"ab\"",
        "\"caf\\u00e9\"", "18446744073709551615", "-9223372036854775808", "1e300"}) {
    json value = json::parse(text);
    EXPECT_EQ(round_trip(value), value) << text;
  }
}

TEST(JsonMsgpack, StructuresRoundTrip) {
  json value =
      json::parse(R"({"a": [1, -2, 3.5, "x", null, true, {"b": []}], "c": {}, "d": [[]]})");
  EXPECT_EQ(round_trip(value), value);
  EXPECT_EQ(dump_json(round_trip(value)), dump_json(value));
}

TEST(JsonMsgpack, IntegersStayIntegersAndFloatsStayFloats) {
  msgpack::object_handle three = unpack(pack(json::parse("3")));
  EXPECT_EQ(three.get().type, msgpack::type::POSITIVE_INTEGER);
  EXPECT_EQ(three.get().via.u64, 3u);
  msgpack::object_handle minus = unpack(pack(json::parse("-7")));
  EXPECT_EQ(minus.get().type, msgpack::type::NEGATIVE_INTEGER);
  EXPECT_EQ(minus.get().via.i64, -7);
  msgpack::object_handle half = unpack(pack(json::parse("2.5")));
  EXPECT_EQ(half.get().type, msgpack::type::FLOAT64);
  EXPECT_EQ(half.get().via.f64, 2.5);
  msgpack::object_handle whole = unpack(pack(json::parse("2.0")));
  EXPECT_EQ(whole.get().type, msgpack::type::FLOAT64);
  EXPECT_TRUE(round_trip(json::parse("2.0")).is_number_float());
  EXPECT_TRUE(round_trip(json::parse("2")).is_number_integer());
  EXPECT_EQ(dump_json(round_trip(json::parse("-7"))), "-7");
}

TEST(JsonMsgpack, StringsAreMsgpackStrings) {
  msgpack::object_handle s = unpack(pack(json("ab")));
  ASSERT_EQ(s.get().type, msgpack::type::STR);
  EXPECT_EQ(std::string(s.get().via.str.ptr, s.get().via.str.size), "ab");
}

TEST(JsonMsgpack, BinaryBecomesByteArray) {
  msgpack::sbuffer buffer;
  msgpack::packer<msgpack::sbuffer> p(buffer);
  p.pack_bin(3);
  p.pack_bin_body("\x00\x7f\xff", 3);
  json out = to_json(msgpack::unpack(buffer.data(), buffer.size()).get());
  EXPECT_EQ(out, json::parse("[0, 127, 255]"));
  // And JSON binary packs as msgpack binary.
  json binary = json::binary({1, 2, 3});
  msgpack::object_handle h = unpack(pack(binary));
  ASSERT_EQ(h.get().type, msgpack::type::BIN);
  EXPECT_EQ(h.get().via.bin.size, 3u);
}

TEST(JsonMsgpack, NonStringMapKeysBecomeTheirJsonText) {
  msgpack::sbuffer buffer;
  msgpack::packer<msgpack::sbuffer> p(buffer);
  p.pack_map(4);
  p.pack(1);
  p.pack(std::string("one"));
  p.pack(-2);
  p.pack(true);
  p.pack(std::vector<int>{1, 2});
  p.pack_nil();
  p.pack(std::string("s"));
  p.pack(2.5);
  json out = to_json(msgpack::unpack(buffer.data(), buffer.size()).get());
  EXPECT_EQ(out, json::parse(R"({"1": "one", "-2": true, "[1,2]": null, "s": 2.5})"));
}

TEST(JsonMsgpack, ExtensionsAreDescribed) {
  msgpack::sbuffer buffer;
  msgpack::packer<msgpack::sbuffer> p(buffer);
  p.pack_ext(2, 5);
  p.pack_ext_body("\x01\x02", 2);
  json out = to_json(msgpack::unpack(buffer.data(), buffer.size()).get());
  EXPECT_EQ(out, json::parse(R"({"ext": 5, "data": [1, 2]})"));
}

TEST(JsonMsgpack, Float32IsANumber) {
  msgpack::sbuffer buffer;
  msgpack::packer<msgpack::sbuffer> p(buffer);
  p.pack_float(1.5f);
  EXPECT_EQ(to_json(msgpack::unpack(buffer.data(), buffer.size()).get()), json(1.5));
}

TEST(JsonMsgpack, InvalidUtf8DoesNotThrow) {
  msgpack::sbuffer buffer;
  msgpack::packer<msgpack::sbuffer> p(buffer);
  p.pack_map(1);
  p.pack_str(2);
  p.pack_str_body("\xff\xfe", 2);
  p.pack_array(1);
  p.pack_str(3);
  p.pack_str_body("a\xc3z", 3);
  json out;
  ASSERT_NO_THROW(out = to_json(msgpack::unpack(buffer.data(), buffer.size()).get()));
  std::string text;
  ASSERT_NO_THROW(text = dump_json(out));
  EXPECT_NE(text.find("\xef\xbf\xbd"), std::string::npos) << text;  // U+FFFD replacement
  EXPECT_NO_THROW(json::parse(text));                               // and the result is JSON
}

TEST(JsonMsgpack, DumpIsCompact) {
  EXPECT_EQ(dump_json(json::parse(R"({ "a" : [ 1 , 2 ] })")), R"({"a":[1,2]})");
}

TEST(CliArgument, JsonValues) {
  EXPECT_EQ(parse_cli_argument("3"), json(3));
  EXPECT_TRUE(parse_cli_argument("3").is_number_integer());
  EXPECT_EQ(parse_cli_argument("-7"), json(-7));
  EXPECT_EQ(parse_cli_argument("2.5"), json(2.5));
  EXPECT_EQ(parse_cli_argument("true"), json(true));
  EXPECT_EQ(parse_cli_argument("false"), json(false));
  EXPECT_EQ(parse_cli_argument("null"), json(nullptr));
  EXPECT_EQ(parse_cli_argument("[1,2]"), json::parse("[1,2]"));
  EXPECT_EQ(parse_cli_argument("{\"k\":1}"), json::parse("{\"k\":1}"));
  EXPECT_EQ(parse_cli_argument("\"ab\""), json("ab"));
  EXPECT_EQ(parse_cli_argument("\"3\""), json("3"));
}

TEST(CliArgument, ABareWordIsAString) {
  EXPECT_EQ(parse_cli_argument("ab"), json("ab"));
  EXPECT_EQ(parse_cli_argument(""), json(""));
  EXPECT_EQ(parse_cli_argument("hello world"), json("hello world"));
  EXPECT_EQ(parse_cli_argument("True"), json("True"));
  EXPECT_EQ(parse_cli_argument("-"), json("-"));
  EXPECT_EQ(parse_cli_argument("\xff"), json("\xff"));
}

// A typo in what was meant as JSON is an error, never a string that travels.
TEST(CliArgument, TextThatBeginsAsJsonButIsNotIsRefused) {
  for (const char* text : {"[1,", "[1,2", "{\"k\":", "\"ab", "1 2", "3x", "-7x", " [1"}) {
    try {
      parse_cli_argument(text);
      ADD_FAILURE() << text << " was taken";
    } catch (const uni::JsonError& e) {
      EXPECT_TRUE(e.not_json()) << text << ": " << e.what();
    }
  }
}

TEST(CliArgument, PacksAsTheWireExpects) {
  msgpack::object_handle h = unpack(pack(parse_cli_argument("-7")));
  EXPECT_EQ(h.get().type, msgpack::type::NEGATIVE_INTEGER);
  h = unpack(pack(parse_cli_argument("ab")));
  EXPECT_EQ(h.get().type, msgpack::type::STR);
}

// ---- limits: nesting and numbers ----------------------------------------------------

std::string nested_arrays(std::size_t depth) {
  return std::string(depth, '[') + std::string(depth, ']');
}

msgpack::object_handle nested_msgpack(std::size_t depth, msgpack::sbuffer& buffer) {
  msgpack::packer<msgpack::sbuffer> p(buffer);
  for (std::size_t i = 0; i < depth; ++i) p.pack_array(i + 1 < depth ? 1 : 0);
  // msgpack-cxx's own unpacker has no depth limit: the object is as deep as written.
  return msgpack::unpack(buffer.data(), buffer.size());
}

TEST(JsonLimits, TheNestingLimitIsTheWires) {
  // A value at the limit converts and passes the wire's check; one level more is refused by both.
  std::string at_limit = pack(json::parse(nested_arrays(uni::kMaxNesting)));
  EXPECT_EQ(uni::detail::check_msgpack(at_limit.data(), at_limit.size()), "");
  msgpack::sbuffer deeper;
  nested_msgpack(uni::kMaxNesting + 1, deeper);
  EXPECT_NE(uni::detail::check_msgpack(deeper.data(), deeper.size()), "");
  EXPECT_THROW(pack(json::parse(nested_arrays(uni::kMaxNesting + 1))), uni::JsonError);
}

TEST(JsonLimits, DeeplyNestedJsonIsRefusedNotACrash) {
  // 100,000 levels overflowed the stack in pack_json before the limit.
  json deep = json::parse(nested_arrays(100000));
  try {
    pack(deep);
    ADD_FAILURE() << "packed 100000 levels";
  } catch (const uni::JsonError& e) {
    EXPECT_NE(std::string(e.what()).find("nested deeper than 64"), std::string::npos) << e.what();
  }
  json objects = json::parse(R"({"a":)" + nested_arrays(100) + "}");
  EXPECT_THROW(pack(objects), uni::JsonError);
}

TEST(JsonLimits, DeeplyNestedMsgpackIsRefusedNotACrash) {
  msgpack::sbuffer buffer;
  msgpack::object_handle deep = nested_msgpack(100000, buffer);
  EXPECT_THROW(to_json(deep.get()), uni::JsonError);
  msgpack::sbuffer fits;
  msgpack::object_handle ok = nested_msgpack(uni::kMaxNesting, fits);
  EXPECT_EQ(dump_json(to_json(ok.get())), nested_arrays(uni::kMaxNesting));
}

// Found by fuzz_json (tests/fuzz): maps whose keys are maps whose keys are
// maps... Each level's key is written as JSON text and escaped again by the
// level above, so the text doubles per level: 26 levels of 1-entry maps (75
// bytes of msgpack) ran for seconds into hundreds of megabytes.
TEST(JsonLimits, MapKeysNestedInMapKeysAreRefusedNotAnExponentialText) {
  // The input it found, byte for byte (base64
  // gYGBgYGBgYGBgYGBgYGBgYGBgYGBgYGBgYFbMSzgzDAwQTlcdR4eHh4eHh5bgYGBgYGBgYGBgVsxLODMMDBBOVx1Hh4eHh4eHlsi).
  const std::string fuzzed = hex_bytes(
      "8181818181818181818181818181818181818181818181818181"
      "5b312ce0cc303041395c751e1e1e1e1e1e1e5b81818181818181"
      "8181815b312ce0cc303041395c751e1e1e1e1e1e1e5b22");
  ASSERT_EQ(fuzzed.size(), 75u);
  ASSERT_EQ(uni::detail::check_msgpack(fuzzed.data(), fuzzed.size()), "");
  try {
    uni::msgpack_to_json(fuzzed);
    ADD_FAILURE() << "converted the fuzzer's keys nested in keys";
  } catch (const uni::JsonError& e) {
    EXPECT_NE(std::string(e.what()).find("map keys nested in map keys"), std::string::npos)
        << e.what();
  }
  // The same shape, well formed: a key nested 26 deep in keys.
  std::string keys;
  for (int i = 0; i < 26; ++i) keys += '\x81';  // fixmap of 1: its key is the next map
  keys += '\x01';                               // the innermost key: 1
  for (int i = 0; i < 26; ++i) keys += '\xc0';  // each map's value: nil
  try {
    uni::msgpack_to_json(keys);
    ADD_FAILURE() << "converted keys nested 26 deep";
  } catch (const uni::JsonError& e) {
    EXPECT_NE(std::string(e.what()).find("map keys nested in map keys"), std::string::npos)
        << e.what();
  }
  // Four levels still convert.
  std::string four;
  for (int i = 0; i < 4; ++i) four += '\x81';
  four += '\x01';
  for (int i = 0; i < 4; ++i) four += '\xc0';
  EXPECT_NO_THROW(uni::msgpack_to_json(four));
}

TEST(JsonLimits, ParseRefusesWhatTheWireCannotCarry) {
  EXPECT_EQ(uni::parse_json("[1, {\"a\": 2}]"), json::parse("[1, {\"a\": 2}]"));
  EXPECT_EQ(uni::parse_json("18446744073709551615"), json(UINT64_MAX));
  EXPECT_EQ(uni::parse_json("-9223372036854775808"), json(INT64_MIN));
  EXPECT_EQ(uni::parse_json("1e-400"), json(0.0));  // underflow rounds to zero, as in C
  for (const char* text :
       {"1e400", "-1e400", "[1, 1e400]", "18446744073709551616", "-9223372036854775809",
        "[99999999999999999999999]", "{\"n\": 123456789012345678901234567890}"}) {
    try {
      uni::parse_json(text);
      ADD_FAILURE() << "accepted " << text;
    } catch (const uni::JsonError& e) {
      EXPECT_NE(std::string(e.what()).find("out of range"), std::string::npos)
          << text << ": " << e.what();
      EXPECT_FALSE(e.not_json()) << text;
    }
  }
  // Digits inside strings are only text.
  EXPECT_EQ(uni::parse_json(R"(["99999999999999999999999", "1e400"])"),
            json::parse(R"(["99999999999999999999999", "1e400"])"));
  try {
    uni::parse_json("[1,");
    ADD_FAILURE() << "accepted [1,";
  } catch (const uni::JsonError& e) {
    EXPECT_TRUE(e.not_json()) << e.what();
  }
  EXPECT_THROW(uni::parse_json(nested_arrays(uni::kMaxNesting + 1)), uni::JsonError);
  EXPECT_NO_THROW(uni::parse_json(nested_arrays(uni::kMaxNesting)));
  EXPECT_THROW(uni::parse_json(nested_arrays(1000000)), uni::JsonError);
}

TEST(CliArgument, NumbersOutOfRangeAreErrorsNotStrings) {
  // They used to become the strings "1e400" and a rounded double.
  EXPECT_THROW(parse_cli_argument("1e400"), uni::JsonError);
  EXPECT_THROW(parse_cli_argument("18446744073709551616"), uni::JsonError);
  EXPECT_THROW(parse_cli_argument("[1e400]"), uni::JsonError);
  EXPECT_EQ(parse_cli_argument("18446744073709551615"), json(UINT64_MAX));
}

TEST(CliArgument, NestingLeavesRoomForTheArgumentArray) {
  // Arguments travel inside one array, so an argument may nest one level less than a value.
  EXPECT_NO_THROW(parse_cli_argument(nested_arrays(uni::kMaxNesting - 1)));
  EXPECT_THROW(parse_cli_argument(nested_arrays(uni::kMaxNesting)), uni::JsonError);
  EXPECT_THROW(parse_cli_argument(nested_arrays(40000)), uni::JsonError);
}

}  // namespace
