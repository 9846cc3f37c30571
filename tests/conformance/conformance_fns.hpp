// The functions of the conformance module (libconformance.so): one echo per
// type of the type-mapping table in docs/protocol.md §8.4, and the failures
// the conformance suite provokes. The C++ driver includes this header for the
// struct types and calls the functions by name, as any boss would.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#ifndef MSGPACK_NO_BOOST
#define MSGPACK_NO_BOOST
#endif
#include <msgpack.hpp>

namespace conformance {

// A struct with MSGPACK_DEFINE travels as an array [x, y, label] ...
struct Point {
  int x = 0;
  int y = 0;
  std::string label;
  MSGPACK_DEFINE(x, y, label);
};

// ... one with MSGPACK_DEFINE_MAP as a map {"x": .., "y": .., "label": ..}.
struct Labelled {
  int x = 0;
  int y = 0;
  std::string label;
  MSGPACK_DEFINE_MAP(x, y, label);
};

}  // namespace conformance

bool echo_bool(bool v);
std::int8_t echo_i8(std::int8_t v);
std::uint8_t echo_u8(std::uint8_t v);
std::int16_t echo_i16(std::int16_t v);
std::uint16_t echo_u16(std::uint16_t v);
std::int32_t echo_i32(std::int32_t v);
std::uint32_t echo_u32(std::uint32_t v);
std::int64_t echo_i64(std::int64_t v);
std::uint64_t echo_u64(std::uint64_t v);
float echo_f32(float v);
double echo_f64(double v);
std::string echo_string(std::string v);
std::vector<std::uint8_t> echo_bytes(std::vector<std::uint8_t> v);
std::vector<std::int64_t> echo_vector(std::vector<std::int64_t> v);
std::vector<std::vector<std::string>> echo_nested(std::vector<std::vector<std::string>> v);
std::array<int, 3> echo_array(std::array<int, 3> v);
std::map<std::string, double> echo_map(std::map<std::string, double> v);
std::optional<int> echo_optional(std::optional<int> v);
std::tuple<int, std::string, bool> echo_tuple(std::tuple<int, std::string, bool> v);
std::pair<std::string, int> echo_pair(std::pair<std::string, int> v);
conformance::Point echo_point(conformance::Point v);
conformance::Labelled echo_labelled(conformance::Labelled v);
void nothing(int v);

int add(int a, int b);
std::int64_t ident(std::int64_t v);
int fail(std::string why);  // throws std::runtime_error("boom: " + why)
int crash(int v);           // dies of SIGSEGV
int sleep_ms(int ms);
