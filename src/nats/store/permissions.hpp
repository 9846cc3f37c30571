// The nats-server permissions of uni's roles (boss, worker, observer, admin;
// the vocabulary of `uni keygen`), built from the names uni uses, and the
// `authorization` block `uni nats-config` writes. Each grant follows from a
// subject or JetStream API call of one role; what is not granted is denied
// (docs/security.md, "NATS credential", says what each role can and cannot do).
#pragma once

#include <string>
#include <vector>

#include "common/identity.hpp"
#include "nats/store/names.hpp"

namespace uni::nats {

struct RolePermissions {
  std::vector<std::string> publish, subscribe;
  // Publishing to the reply subject of a request received (a worker answers
  // become requests and flow control of its ordered consumer).
  bool allow_responses = false;
};

// What `role` may publish and subscribe to when it connects as `identity`
// (its user name or nkey public key), for task streams of `platforms`.
// Throws std::invalid_argument for an identity or platform that cannot be a
// subject token.
RolePermissions role_permissions(const Names& names, Role role, const std::string& identity,
                                 const std::vector<std::string>& platforms);

struct NatsUser {
  std::string name;  // for the comment in the block, and the files
  Role role = Role::kBoss;
  std::string nkey;  // public key "U..."
};

// An `authorization { users: [...] }` block for a nats-server configuration:
// each user by nkey with its role's permissions.
std::string authorization_block(const Names& names, const std::vector<NatsUser>& users,
                                const std::vector<std::string>& platforms);

}  // namespace uni::nats
