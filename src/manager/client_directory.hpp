// The client keys the manager admits, and who each is (docs/security.md §1,
// §5). Two kinds: the shared authkey's client key (and ManagerConfig's extra
// keys), all one identity `authkey` of role admin; or, with --clients FILE,
// the keys listed there, each its own identity. admit() is the ZAP handler's
// decision and may be called from another thread than the manager's loop;
// reload() (SIGHUP) swaps the table whole, so a reader sees the old table or
// the new one.
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>

#include "common/identity.hpp"

namespace uni::manager {

class ClientDirectory {
 public:
  // The shared authkey: `keys` (raw public keys) are all identity `authkey`.
  explicit ClientDirectory(const std::set<std::string>& keys);
  // The keys of a clients file (key_files.hpp). Throws KeyFileError.
  static std::unique_ptr<ClientDirectory> from_file(const std::string& path);

  // A key admitted: the user id its connection carries (the key in Z85);
  // nullopt: refused. Any thread.
  std::optional<std::string> admit(const std::string& public_key) const;
  // Who a connection's user id is now; null if its key is no longer listed
  // (removed by a reload since it connected).
  std::shared_ptr<const Identity> find(const std::string& user_id) const;
  std::shared_ptr<const Identity> find_key(const std::string& public_key) const;

  // Reads the clients file again and returns how many keys it lists. On an
  // error (logged by the caller) the old table stays and this throws.
  std::size_t reload();
  std::size_t size() const { return table()->size(); }  // keys admitted
  bool keyed() const { return !path_.empty(); }
  const std::string& path() const { return path_; }

 private:
  using Table = std::unordered_map<std::string, std::shared_ptr<const Identity>>;
  ClientDirectory() = default;
  std::shared_ptr<const Table> table() const;

  std::string path_;  // empty: the shared authkey
  mutable std::mutex mutex_;
  std::shared_ptr<const Table> table_;  // by raw public key
};

}  // namespace uni::manager
