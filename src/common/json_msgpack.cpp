// JSON <-> msgpack, by hand (see the header for why).
#include "common/json_msgpack.hpp"

namespace uni {

std::string json_to_msgpack(const nlohmann::json& value) {
  detail::PackBuffer buffer;
  detail::Packer packer(buffer);
  pack_json(packer, value);
  return std::move(buffer.data);
}

void pack_json(detail::Packer& packer, const nlohmann::json& value) {
  using Type = nlohmann::json::value_t;
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
      for (const auto& element : value) pack_json(packer, element);
      break;
    case Type::object:
      packer.pack_map(static_cast<std::uint32_t>(value.size()));
      for (const auto& [key, element] : value.items()) {
        packer.pack_str(static_cast<std::uint32_t>(key.size()));
        packer.pack_str_body(key.data(), static_cast<std::uint32_t>(key.size()));
        pack_json(packer, element);
      }
      break;
  }
}

namespace {
nlohmann::json bytes_to_json(const char* data, std::uint32_t size) {
  nlohmann::json out = nlohmann::json::array();
  for (std::uint32_t i = 0; i < size; ++i) out.push_back(static_cast<unsigned char>(data[i]));
  return out;
}
}  // namespace

nlohmann::json to_json(const msgpack::object& value) {
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
      nlohmann::json out = nlohmann::json::array();
      for (std::uint32_t i = 0; i < value.via.array.size; ++i)
        out.push_back(to_json(value.via.array.ptr[i]));
      return out;
    }
    case msgpack::type::MAP: {
      nlohmann::json out = nlohmann::json::object();
      for (std::uint32_t i = 0; i < value.via.map.size; ++i) {
        const msgpack::object_kv& kv = value.via.map.ptr[i];
        std::string key = kv.key.type == msgpack::type::STR
                              ? std::string(kv.key.via.str.ptr, kv.key.via.str.size)
                              : dump_json(to_json(kv.key));
        out[key] = to_json(kv.val);
      }
      return out;
    }
    case msgpack::type::EXT:
      return {{"ext", value.via.ext.type()},
              {"data", bytes_to_json(value.via.ext.data(), value.via.ext.size)}};
  }
  return nullptr;
}

std::string dump_json(const nlohmann::json& value) {
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

nlohmann::json parse_cli_argument(std::string_view text) {
  nlohmann::json parsed = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) return std::string(text);
  return parsed;
}

}  // namespace uni
