// Content addresses of modules: BLAKE2b-256 (libsodium's crypto_generichash),
// written as 64 lowercase hex digits wherever a person or a file name sees it.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace uni {

struct ModuleHash {
  std::array<std::uint8_t, 32> bytes{};

  static ModuleHash of(std::string_view data);
  static std::optional<ModuleHash> from_bytes(std::string_view raw);  // exactly 32 bytes
  static std::optional<ModuleHash> from_hex(std::string_view hex);
  std::string hex() const;
  std::string_view raw() const {
    return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
  }
  auto operator<=>(const ModuleHash&) const = default;
};

}  // namespace uni

template <>
struct std::hash<uni::ModuleHash> {
  std::size_t operator()(const uni::ModuleHash& h) const noexcept {
    std::size_t out;  // the hash is uniformly distributed already
    static_assert(sizeof(out) <= sizeof(h.bytes));
    __builtin_memcpy(&out, h.bytes.data(), sizeof(out));
    return out;
  }
};
