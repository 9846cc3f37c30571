// JSON <-> msgpack, by hand (see the header for why), within the wire's limits.
#include "common/json_msgpack.hpp"

#include <charconv>
#include <cstdint>
#include <optional>

namespace uni {

namespace {

[[noreturn]] void too_deep(std::size_t max_depth) {
  throw JsonError("nested deeper than " + std::to_string(max_depth) +
                  " levels of arrays and objects, the limit of uni's wire format");
}

void pack_value(detail::Packer& packer, const nlohmann::json& value, std::size_t depth,
                std::size_t max_depth) {
  using Type = nlohmann::json::value_t;
  if ((value.is_array() || value.is_object()) && ++depth > max_depth) too_deep(max_depth);
  switch (value.type()) {
    case Type::null:
    case Type::discarded: packer.pack_nil(); break;
    case Type::boolean: value.get<bool>() ? packer.pack_true() : packer.pack_false(); break;
    case Type::number_integer: packer.pack_int64(value.get<std::int64_t>()); break;
    case Type::number_unsigned: packer.pack_uint64(value.get<std::uint64_t>()); break;
    case Type::number_float: packer.pack_double(value.get<double>()); break;
    case Type::string: {
      const auto& s = value.get_ref<const std::string&>();
      packer.pack_str(static_cast<std::uint32_t>(s.size()));
      packer.pack_str_body(s.data(), static_cast<std::uint32_t>(s.size()));
      break;
    }
    case Type::binary: {
      const auto& b = value.get_binary();
      packer.pack_bin(static_cast<std::uint32_t>(b.size()));
      packer.pack_bin_body(reinterpret_cast<const char*>(b.data()),
                           static_cast<std::uint32_t>(b.size()));
      break;
    }
    case Type::array:
      packer.pack_array(static_cast<std::uint32_t>(value.size()));
      for (const auto& element : value) pack_value(packer, element, depth, max_depth);
      break;
    case Type::object:
      packer.pack_map(static_cast<std::uint32_t>(value.size()));
      for (const auto& [key, element] : value.items()) {
        packer.pack_str(static_cast<std::uint32_t>(key.size()));
        packer.pack_str_body(key.data(), static_cast<std::uint32_t>(key.size()));
        pack_value(packer, element, depth, max_depth);
      }
      break;
  }
}

nlohmann::json bytes_to_json(const char* data, std::uint32_t size) {
  nlohmann::json out = nlohmann::json::array();
  for (std::uint32_t i = 0; i < size; ++i) out.push_back(static_cast<unsigned char>(data[i]));
  return out;
}

// A map key that is not a string is written as its JSON text, and a key
// inside such a key is escaped once more at each level: its text about
// doubles per level. Keys within keys are therefore limited to this many
// levels (std::map<std::map<std::map<...>, V>, V> does not go deeper in
// practice); without a limit 30 bytes of msgpack made gigabytes of text.
constexpr std::size_t kMaxKeyNesting = 4;

nlohmann::json value_to_json(const msgpack::object& value, std::size_t depth, std::size_t max_depth,
                             std::size_t key_depth = 0) {
  switch (value.type) {
    case msgpack::type::NIL: return nullptr;
    case msgpack::type::BOOLEAN: return value.via.boolean;
    case msgpack::type::POSITIVE_INTEGER: return value.via.u64;
    case msgpack::type::NEGATIVE_INTEGER: return value.via.i64;
    case msgpack::type::FLOAT32:
    case msgpack::type::FLOAT64: return value.via.f64;
    case msgpack::type::STR: return std::string(value.via.str.ptr, value.via.str.size);
    case msgpack::type::BIN: return bytes_to_json(value.via.bin.ptr, value.via.bin.size);
    case msgpack::type::ARRAY: {
      if (++depth > max_depth) too_deep(max_depth);
      nlohmann::json out = nlohmann::json::array();
      for (std::uint32_t i = 0; i < value.via.array.size; ++i)
        out.push_back(value_to_json(value.via.array.ptr[i], depth, max_depth, key_depth));
      return out;
    }
    case msgpack::type::MAP: {
      if (++depth > max_depth) too_deep(max_depth);
      nlohmann::json out = nlohmann::json::object();
      for (std::uint32_t i = 0; i < value.via.map.size; ++i) {
        const msgpack::object_kv& kv = value.via.map.ptr[i];
        bool nested = kv.key.type == msgpack::type::ARRAY || kv.key.type == msgpack::type::MAP;
        if (nested && key_depth >= kMaxKeyNesting)
          throw JsonError("map keys nested in map keys more than " +
                          std::to_string(kMaxKeyNesting) + " deep cannot be written as JSON");
        std::string key =
            kv.key.type == msgpack::type::STR
                ? std::string(kv.key.via.str.ptr, kv.key.via.str.size)
                : dump_json(value_to_json(kv.key, depth, max_depth, key_depth + nested));
        out[key] = value_to_json(kv.val, depth, max_depth, key_depth);
      }
      return out;
    }
    case msgpack::type::EXT:
      return {{"ext", value.via.ext.type()},
              {"data", bytes_to_json(value.via.ext.data(), value.via.ext.size)}};
  }
  return nullptr;
}

// Depth of arrays and objects, counted only up to one past `max_depth`, so
// that the walk itself stays shallow whatever the value.
bool deeper_than(const nlohmann::json& value, std::size_t max_depth, std::size_t depth = 0) {
  if (!value.is_array() && !value.is_object()) return false;
  if (++depth > max_depth) return true;
  for (const auto& element : value)
    if (deeper_than(element, max_depth, depth)) return true;
  return false;
}

// nlohmann reads an integer too large for 64 bits as a double, dropping
// digits without a word; this finds such an integer in text that parsed.
std::optional<std::string> oversized_integer(std::string_view text) {
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') {
      in_string = true;
      continue;
    }
    if (c != '-' && (c < '0' || c > '9')) continue;
    std::size_t start = i;
    while (i < text.size() &&
           std::string_view("+-0123456789.eE").find(text[i]) != std::string_view::npos)
      ++i;
    std::string_view token = text.substr(start, i - start);
    --i;
    if (token.find_first_of(".eE") != std::string_view::npos) continue;  // a float: nlohmann checks
    const char* end = token.data() + token.size();
    bool fits = false;
    if (token.front() == '-') {
      std::int64_t v;
      fits = std::from_chars(token.data(), end, v).ec == std::errc();
    } else {
      std::uint64_t v;
      fits = std::from_chars(token.data(), end, v).ec == std::errc();
    }
    if (!fits) return std::string(token);
  }
  return std::nullopt;
}

}  // namespace

std::string json_to_msgpack(const nlohmann::json& value) {
  detail::PackBuffer buffer;
  detail::Packer packer(buffer);
  pack_json(packer, value);
  return std::move(buffer.data);
}

void pack_json(detail::Packer& packer, const nlohmann::json& value, std::size_t max_depth) {
  pack_value(packer, value, 0, max_depth);
}

nlohmann::json to_json(const msgpack::object& value, std::size_t max_depth) {
  return value_to_json(value, 0, max_depth);
}

std::string msgpack_to_json(std::string_view bytes) {
  if (std::string error = detail::check_msgpack(bytes.data(), bytes.size()); !error.empty())
    throw JsonError(error);
  msgpack::object_handle h = msgpack::unpack(bytes.data(), bytes.size());
  return dump_json(to_json(h.get()));
}

std::string dump_json(const nlohmann::json& value) {
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

nlohmann::json parse_json(std::string_view text, std::size_t max_depth) {
  // nlohmann's parser and destructor are iterative: any depth parses safely,
  // and the limit is applied to the result.
  nlohmann::json value;
  try {
    value = nlohmann::json::parse(text);
  } catch (const nlohmann::json::out_of_range& e) {
    // Its only out-of-range error while parsing: a float beyond a double (1e400).
    std::string what = e.what();
    std::size_t quote = what.find('\'');
    std::string number = quote == std::string::npos ? what : what.substr(quote);
    throw JsonError("number out of range: " + number + " does not fit a double");
  } catch (const nlohmann::json::exception& e) {
    throw JsonError(std::string("not JSON: ") + e.what(), /*not_json=*/true);
  }
  if (auto integer = oversized_integer(text))
    throw JsonError("number out of range: " + *integer +
                    " does not fit a 64-bit integer (write it as a string, or as a float with "
                    "a decimal point if rounding is fine)");
  if (deeper_than(value, max_depth)) too_deep(max_depth);
  return value;
}

namespace {

// Whether text that failed to parse was meant as JSON: it opens as an array,
// an object, a string or a number does. A bare word does not.
bool begins_as_json(std::string_view text) {
  std::size_t at = text.find_first_not_of(" \t\r\n");
  if (at == std::string_view::npos) return false;
  auto digit = [](char c) { return c >= '0' && c <= '9'; };
  char c = text[at];
  if (c == '[' || c == '{' || c == '"' || digit(c)) return true;
  return (c == '-' || c == '.') && at + 1 < text.size() && digit(text[at + 1]);
}

}  // namespace

nlohmann::json parse_cli_argument(std::string_view text) {
  try {
    return parse_json(text, kMaxNesting - 1);
  } catch (const JsonError& e) {
    if (e.not_json() && !begins_as_json(text)) return std::string(text);
    throw;
  }
}

}  // namespace uni
