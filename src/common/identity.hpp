// Who a peer is to the manager: the key it connected with, that key's name
// and role (docs/security.md §1), and the owner tag that ties the tasks it
// creates to it. Under the shared authkey every peer is the one identity
// `authkey`, of role admin: one trust domain, no owners between its members.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace uni {

// What a client key may do (`uni keygen --role`). Ordered by nothing: the
// manager's access rules (manager/access.hpp) say what each may do.
enum class Role : std::uint8_t { kObserver, kWorker, kBoss, kAdmin };
const char* role_name(Role role);  // "observer", "worker", "boss", "admin"
std::optional<Role> role_from_name(std::string_view name);

struct Identity {
  std::string name;  // the key's name in the clients file ("w1")
  Role role = Role::kAdmin;
  std::string public_key;  // 32 raw bytes (CURVE)
  // The upper 32 bits of every session a boss of this key opens: what makes
  // an id tell its owner without a lookup (owner_tag, session_for_key).
  std::uint32_t owner_tag = 0;
  // The shared authkey's identity: no owner checks, no key of its own.
  bool shared = false;
};

// The first four bytes of a raw public key, big-endian.
std::uint32_t owner_tag(std::string_view public_key);

// A new random session id for a boss of this key: its owner tag above 32
// random bits. Without a key (the shared authkey), 64 random bits.
std::uint64_t new_session(std::optional<std::uint32_t> owner_tag);

}  // namespace uni
