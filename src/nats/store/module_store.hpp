// Modules on NATS: stored once by content hash in an object store (name = the
// module's BLAKE2b-256 hex, header Uni-Platform = its platform tag, a header
// Uni-Signature per signature it was stored with, in hex), fetched
// by workers on demand and checked twice: the object store's SHA-256 digest
// (transport) and the module hash itself (what was asked for is what came).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/hash.hpp"
#include "nats/client/object_store.hpp"
#include "nats/store/names.hpp"

namespace uni::nats {

struct ModuleStoreConfig {
  int replicas = 1;
  std::int64_t max_bytes = -1;
};

class ModuleStore {
 public:
  static ModuleStore open(JetStream& js, const Names& names, const ModuleStoreConfig& config = {});
  // A handle with no request: the store is made by open(), elsewhere or later.
  static ModuleStore bind(JetStream& js, const Names& names) {
    return ModuleStore(ObjectStore::bind(js, names.module_bucket()));
  }

  // Stores the module unless it is there already. Throws std::invalid_argument
  // if `bytes` do not hash to `hash`. Returns whether it uploaded.
  bool put(const ModuleHash& hash, const std::string& platform, std::string_view bytes,
           const std::vector<std::string>& signatures = {});
  bool contains(const ModuleHash& hash);
  // The module's bytes, or nullopt if none is stored under `hash`. Throws
  // std::runtime_error if what is stored does not hash to `hash`.
  std::optional<std::string> get(const ModuleHash& hash);
  // Its platform tag; nullopt if absent.
  std::optional<std::string> platform(const ModuleHash& hash);
  // The signatures it was stored with (96 bytes each, common/signing.hpp).
  std::vector<std::string> signatures(const ModuleHash& hash);

  ObjectStore& objects() { return objects_; }

 private:
  explicit ModuleStore(ObjectStore objects) : objects_(std::move(objects)) {}
  ObjectStore objects_;
};

}  // namespace uni::nats
