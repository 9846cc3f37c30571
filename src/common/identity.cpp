// Roles, owner tags and session ids (see identity.hpp).
#include "common/identity.hpp"

#include <sodium.h>

namespace uni {

const char* role_name(Role role) {
  switch (role) {
    case Role::kObserver: return "observer";
    case Role::kWorker: return "worker";
    case Role::kBoss: return "boss";
    case Role::kAdmin: return "admin";
  }
  return "unknown";
}

std::optional<Role> role_from_name(std::string_view name) {
  for (Role r : {Role::kObserver, Role::kWorker, Role::kBoss, Role::kAdmin})
    if (name == role_name(r)) return r;
  return std::nullopt;
}

std::uint32_t owner_tag(std::string_view public_key) {
  std::uint32_t tag = 0;
  for (std::size_t i = 0; i < 4 && i < public_key.size(); ++i)
    tag = (tag << 8) | static_cast<unsigned char>(public_key[i]);
  return tag;
}

std::uint64_t new_session(std::optional<std::uint32_t> tag) {
  std::uint64_t random = 0;
  randombytes_buf(&random, sizeof(random));
  if (!tag) return random;
  return (static_cast<std::uint64_t>(*tag) << 32) | (random & 0xffffffffu);
}

}  // namespace uni
