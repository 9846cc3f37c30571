// `uni nats-config`'s work, in the composition root (the one place that may
// name a broker): an nkey user per name, the nats-server `authorization`
// block with each role's permissions (src/nats/store/permissions.hpp), and
// each user's seed, written to a directory.
#pragma once

#include <string>
#include <vector>

#include "common/identity.hpp"

namespace uni::app {

struct AccessUser {
  std::string name;  // letters, digits, '-' and '_'
  Role role = Role::kBoss;
  std::string public_key;  // filled in by write_nats_config
};

// Writes DIR/authorization.conf and DIR/NAME.nk (mode 0600) for each user,
// and returns the users with their public keys. Throws std::invalid_argument
// (a name that cannot be a file and subject token, a seed file that exists:
// nothing is overwritten and nothing is written then).
std::vector<AccessUser> write_nats_config(const std::string& dir, std::vector<AccessUser> users,
                                          const std::vector<std::string>& platforms,
                                          const std::string& prefix);

}  // namespace uni::app
