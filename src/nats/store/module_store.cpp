// ModuleStore: content-addressed modules over the object store.
#include "nats/store/module_store.hpp"

#include <stdexcept>

namespace uni::nats {

namespace {
constexpr const char* kPlatformHeader = "Uni-Platform";
}

ModuleStore ModuleStore::open(JetStream& js, const Names& names, const ModuleStoreConfig& config) {
  return ModuleStore(ObjectStore::open(js, {.bucket = names.module_bucket(),
                                            .description = "uni modules by content hash",
                                            .replicas = config.replicas,
                                            .max_bytes = config.max_bytes}));
}

bool ModuleStore::put(const ModuleHash& hash, const std::string& platform, std::string_view bytes) {
  if (ModuleHash::of(bytes) != hash)
    throw std::invalid_argument("the module bytes do not hash to " + hash.hex());
  if (std::optional<ObjectInfo> stored = objects_.info(hash.hex());
      stored && stored->digest == object_digest(bytes))
    return false;
  objects_.put(hash.hex(), bytes, {{kPlatformHeader, {platform}}});
  return true;
}

bool ModuleStore::contains(const ModuleHash& hash) { return objects_.info(hash.hex()).has_value(); }

std::optional<std::string> ModuleStore::get(const ModuleHash& hash) {
  std::optional<std::string> bytes = objects_.get(hash.hex());
  if (bytes && ModuleHash::of(*bytes) != hash)
    throw std::runtime_error("the module stored as " + hash.hex() + " hashes to " +
                             ModuleHash::of(*bytes).hex());
  return bytes;
}

std::optional<std::string> ModuleStore::platform(const ModuleHash& hash) {
  std::optional<ObjectInfo> info = objects_.info(hash.hex());
  if (!info) return std::nullopt;
  auto it = info->headers.find(kPlatformHeader);
  if (it == info->headers.end() || it->second.empty()) return std::string();
  return it->second.front();
}

}  // namespace uni::nats
