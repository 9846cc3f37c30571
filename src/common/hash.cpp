// BLAKE2b-256 module hashes through libsodium.
#include "common/hash.hpp"

#include <sodium.h>

#include <cstring>

namespace uni {

ModuleHash ModuleHash::of(std::string_view data) {
  ModuleHash h;
  crypto_generichash(h.bytes.data(), h.bytes.size(),
                     reinterpret_cast<const unsigned char*>(data.data()), data.size(), nullptr, 0);
  return h;
}

std::optional<ModuleHash> ModuleHash::from_bytes(std::string_view raw) {
  if (raw.size() != sizeof(ModuleHash::bytes)) return std::nullopt;
  ModuleHash h;
  std::memcpy(h.bytes.data(), raw.data(), raw.size());
  return h;
}

std::optional<ModuleHash> ModuleHash::from_hex(std::string_view hex) {
  ModuleHash h;
  std::size_t written = 0;
  if (hex.size() != 2 * h.bytes.size() ||
      sodium_hex2bin(h.bytes.data(), h.bytes.size(), hex.data(), hex.size(), nullptr, &written,
                     nullptr) != 0 ||
      written != h.bytes.size())
    return std::nullopt;
  return h;
}

std::string ModuleHash::hex() const {
  char out[2 * sizeof(bytes) + 1];
  sodium_bin2hex(out, sizeof(out), bytes.data(), bytes.size());
  return std::string(out, 2 * sizeof(bytes));
}

}  // namespace uni
