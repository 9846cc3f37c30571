// Conversion between the CLI's JSON and the wire's msgpack. Written here
// rather than with nlohmann's to_msgpack because results may hold maps with
// non-string keys, binary data and non-UTF-8 strings, which JSON cannot.
// What the wire cannot carry is refused while converting, with a JsonError.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <string_view>

#include "uni/detail/msgpack_check.hpp"
#include "uni/detail/pack_buffer.hpp"

namespace uni {

// Arrays and objects nested deeper than this are refused in both directions.
// It is the wire's own limit (the default of detail::check_msgpack, which
// every worker and boss applies to arguments and results), so what converts
// also travels; and it bounds the recursion of the converters, which a value
// nested 40,000 deep would otherwise turn into a stack overflow.
inline constexpr std::size_t kMaxNesting = 64;

// A value that cannot be converted: JSON nested too deeply, a number out of
// range, or (from parse_json) text that is not JSON at all.
class JsonError : public std::runtime_error {
 public:
  JsonError(const std::string& what, bool not_json = false)
      : std::runtime_error(what), not_json_(not_json) {}
  // True when the text is not JSON; false when it is JSON the wire cannot carry.
  bool not_json() const { return not_json_; }

 private:
  bool not_json_;
};

// Packs a JSON value: integers stay integers, other numbers become float64.
// Throws JsonError if it nests deeper than `max_depth` (the outermost array
// or object is level 1).
void pack_json(detail::Packer& packer, const nlohmann::json& value,
               std::size_t max_depth = kMaxNesting);

// The msgpack encoding of a JSON value; throws JsonError as pack_json.
std::string json_to_msgpack(const nlohmann::json& value);

// JSON view of a msgpack value. Binary becomes an array of byte values,
// non-string map keys their JSON text, extensions {"ext": type, "data": [bytes]}.
// Throws JsonError if it nests deeper than `max_depth`.
nlohmann::json to_json(const msgpack::object& value, std::size_t max_depth = kMaxNesting);

// The compact JSON text of one msgpack value (a result), checked as the wire
// checks it first; throws JsonError if it is not one well-formed value or
// nests deeper than kMaxNesting.
std::string msgpack_to_json(std::string_view bytes);

// Compact JSON text; invalid UTF-8 in strings is replaced, never an exception.
std::string dump_json(const nlohmann::json& value);

// Parses JSON text that is to travel: throws JsonError if it is not JSON
// (not_json()), nests deeper than `max_depth`, or holds a number that neither
// a 64-bit integer nor a double can hold (1e400, 2^64): such a number is an
// error rather than a silently rounded double.
nlohmann::json parse_json(std::string_view text, std::size_t max_depth = kMaxNesting);

// One CLI argument: valid JSON is taken as JSON ("3", "[1,2]", "\"ab\""),
// a bare word as a plain string ("ab"). Text that begins as JSON does (an
// array, object, string or number: "[1,2", "3x") but is not valid JSON
// throws JsonError (not_json()), as does JSON the wire cannot carry: a typo
// never travels as a string. Arguments travel inside one array, so one may
// nest at most kMaxNesting - 1 levels.
nlohmann::json parse_cli_argument(std::string_view text);

}  // namespace uni
