// libFuzzer target: a task's arguments as a module's invoker decodes them
// (include/uni/detail/types.hpp), for signatures that cover every kind of
// parameter: integers of each width and sign, floats, strings, vectors (and
// bin for bytes), arrays, maps, optionals, tuples and nested containers.
// Every input must decode or yield an error text.
#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "uni/detail/types.hpp"

namespace {

template <class Tuple>
void decode_as(const msgpack::object& o) {
  Tuple args;
  std::string error;
  uni::detail::decode_arguments(o, args, error);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  msgpack::object_handle handle;
  try {
    handle = uni::detail::unpack_checked(reinterpret_cast<const char*>(data), size);
  } catch (const std::exception&) {
    return 0;
  }
  const msgpack::object& o = handle.get();
  decode_as<std::tuple<int, std::uint8_t, std::int64_t, std::uint64_t>>(o);
  decode_as<std::tuple<double, float, bool, std::string>>(o);
  decode_as<std::tuple<std::vector<std::uint8_t>, std::vector<int>, std::array<double, 3>>>(o);
  decode_as<std::tuple<std::map<std::string, int>, std::unordered_map<int, std::string>>>(o);
  decode_as<std::tuple<std::optional<int>, std::tuple<int, std::string>, std::pair<char, short>>>(
      o);
  decode_as<std::tuple<std::vector<std::vector<std::map<std::string, std::optional<double>>>>>>(o);
  decode_as<std::tuple<>>(o);
  return 0;
}
