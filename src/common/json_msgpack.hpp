// Conversion between the CLI's JSON and the wire's msgpack. Written here
// rather than with nlohmann's to_msgpack because results may hold maps with
// non-string keys, binary data and non-UTF-8 strings, which JSON cannot.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "uni/detail/types.hpp"

namespace uni {

// Packs a JSON value: integers stay integers, other numbers become float64.
void pack_json(detail::Packer& packer, const nlohmann::json& value);

// The msgpack encoding of a JSON value.
std::string json_to_msgpack(const nlohmann::json& value);

// JSON view of a msgpack value. Binary becomes an array of byte values,
// non-string map keys their JSON text, extensions {"ext": type, "data": [bytes]}.
nlohmann::json to_json(const msgpack::object& value);

// Compact JSON text; invalid UTF-8 in strings is replaced, never an exception.
std::string dump_json(const nlohmann::json& value);

// One CLI argument: valid JSON is taken as JSON ("3", "[1,2]", "\"ab\""),
// anything else as a plain string ("ab").
nlohmann::json parse_cli_argument(std::string_view text);

}  // namespace uni
