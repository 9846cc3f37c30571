// libFuzzer target: JSON to msgpack as `uni run` and `uni map` read their
// arguments (src/common/json_msgpack.cpp), and msgpack back to JSON as they
// print results. Every input must convert or throw a JsonError / a
// runtime_error naming what is wrong.
#include <cstdint>
#include <stdexcept>
#include <string_view>

#include "common/json_msgpack.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    std::string packed = uni::json_to_msgpack(uni::parse_json(text));
    uni::msgpack_to_json(packed);
  } catch (const std::exception&) {
  }
  try {
    uni::msgpack_to_json(text);
  } catch (const std::exception&) {
  }
  return 0;
}
