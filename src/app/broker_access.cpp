// write_nats_config: nkeys, the permissions block and the seed files.
#include "app/broker_access.hpp"

#include <filesystem>
#include <stdexcept>

#include "common/files.hpp"
#include "nats/client/nkey.hpp"
#include "nats/store/permissions.hpp"

namespace uni::app {

std::vector<AccessUser> write_nats_config(const std::string& dir, std::vector<AccessUser> users,
                                          const std::vector<std::string>& platforms,
                                          const std::string& prefix) {
  namespace fs = std::filesystem;
  nats::Names names(prefix);
  if (users.empty()) throw std::invalid_argument("no user to write");
  for (const AccessUser& user : users) {
    if (!nats::valid_subject_token(user.name) || user.name.find('/') != std::string::npos)
      throw std::invalid_argument("the user name '" + user.name +
                                  "' must be letters, digits, '-' or '_'");
    if (fs::exists(fs::path(dir) / (user.name + ".nk")))
      throw std::invalid_argument((fs::path(dir) / (user.name + ".nk")).string() +
                                  " exists: remove it first (uni nats-config never overwrites a "
                                  "seed)");
  }
  std::vector<nats::NatsUser> keyed;
  std::vector<std::string> seeds;
  for (AccessUser& user : users) {
    nats::NKey key = nats::NKey::generate_user();
    user.public_key = key.public_key();
    keyed.push_back({user.name, user.role, user.public_key});
    seeds.push_back(key.seed());
  }
  const std::string block = nats::authorization_block(names, keyed, platforms);
  fs::create_directories(dir);
  write_file_atomic((fs::path(dir) / "authorization.conf").string(), block, 0644);
  for (std::size_t i = 0; i < users.size(); ++i)
    write_file_atomic((fs::path(dir) / (users[i].name + ".nk")).string(), seeds[i] + "\n", 0600);
  return users;
}

}  // namespace uni::app
