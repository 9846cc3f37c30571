// Admitted client keys and their identities (see client_directory.hpp).
#include "manager/client_directory.hpp"

#include "common/key_files.hpp"

namespace uni::manager {

namespace {

std::shared_ptr<const std::unordered_map<std::string, std::shared_ptr<const Identity>>> load(
    const std::string& path) {
  auto table = std::make_shared<std::unordered_map<std::string, std::shared_ptr<const Identity>>>();
  for (Identity& id : read_clients_file(path)) {
    std::string key = id.public_key;
    (*table)[key] = std::make_shared<const Identity>(std::move(id));
  }
  return table;
}

}  // namespace

ClientDirectory::ClientDirectory(const std::set<std::string>& keys) {
  auto shared = std::make_shared<Identity>();
  shared->name = "authkey";
  shared->role = Role::kAdmin;
  shared->shared = true;
  auto table = std::make_shared<Table>();
  for (const std::string& key : keys) (*table)[key] = shared;
  table_ = std::move(table);
}

std::unique_ptr<ClientDirectory> ClientDirectory::from_file(const std::string& path) {
  std::unique_ptr<ClientDirectory> d(new ClientDirectory());
  d->path_ = path;
  d->table_ = load(path);
  return d;
}

std::shared_ptr<const ClientDirectory::Table> ClientDirectory::table() const {
  std::lock_guard lock(mutex_);
  return table_;
}

std::optional<std::string> ClientDirectory::admit(const std::string& public_key) const {
  if (public_key.size() != 32 || !table()->count(public_key)) return std::nullopt;
  return z85_encode(public_key);
}

std::shared_ptr<const Identity> ClientDirectory::find_key(const std::string& public_key) const {
  std::shared_ptr<const Table> t = table();
  auto it = t->find(public_key);
  return it == t->end() ? nullptr : it->second;
}

std::shared_ptr<const Identity> ClientDirectory::find(const std::string& user_id) const {
  std::optional<std::string> key = z85_decode(user_id);
  return key ? find_key(*key) : nullptr;
}

std::size_t ClientDirectory::reload() {
  if (path_.empty()) return size();
  auto fresh = load(path_);
  std::lock_guard lock(mutex_);
  table_ = fresh;
  return fresh->size();
}

}  // namespace uni::manager
