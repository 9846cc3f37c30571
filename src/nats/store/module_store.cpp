// ModuleStore: content-addressed modules over the object store.
#include "nats/store/module_store.hpp"

#include <sodium.h>

#include <map>
#include <stdexcept>

namespace uni::nats {

namespace {
constexpr const char* kPlatformHeader = "Uni-Platform";
constexpr const char* kSignatureHeader = "Uni-Signature";
}  // namespace

ModuleStore ModuleStore::open(JetStream& js, const Names& names, const ModuleStoreConfig& config) {
  return ModuleStore(ObjectStore::open(js, {.bucket = names.module_bucket(),
                                            .description = "uni modules by content hash",
                                            .replicas = config.replicas,
                                            .max_bytes = config.max_bytes}));
}

bool ModuleStore::put(const ModuleHash& hash, const std::string& platform, std::string_view bytes,
                      const std::vector<std::string>& signatures) {
  if (ModuleHash::of(bytes) != hash)
    throw std::invalid_argument("the module bytes do not hash to " + hash.hex());
  if (std::optional<ObjectInfo> stored = objects_.info(hash.hex());
      stored && stored->digest == object_digest(bytes))
    return false;
  std::map<std::string, std::vector<std::string>> headers = {{kPlatformHeader, {platform}}};
  for (const std::string& s : signatures) {
    std::string hex(2 * s.size() + 1, '\0');
    sodium_bin2hex(hex.data(), hex.size(), reinterpret_cast<const unsigned char*>(s.data()),
                   s.size());
    hex.pop_back();
    headers[kSignatureHeader].push_back(std::move(hex));
  }
  objects_.put(hash.hex(), bytes, headers);
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

std::vector<std::string> ModuleStore::signatures(const ModuleHash& hash) {
  std::vector<std::string> out;
  std::optional<ObjectInfo> info = objects_.info(hash.hex());
  if (!info) return out;
  auto it = info->headers.find(kSignatureHeader);
  if (it == info->headers.end()) return out;
  for (const std::string& hex : it->second) {
    std::string raw(hex.size() / 2, '\0');
    std::size_t written = 0;
    if (sodium_hex2bin(reinterpret_cast<unsigned char*>(raw.data()), raw.size(), hex.data(),
                       hex.size(), nullptr, &written, nullptr) == 0 &&
        written == raw.size())
      out.push_back(std::move(raw));
  }
  return out;
}

std::optional<std::string> ModuleStore::platform(const ModuleHash& hash) {
  std::optional<ObjectInfo> info = objects_.info(hash.hex());
  if (!info) return std::nullopt;
  auto it = info->headers.find(kPlatformHeader);
  if (it == info->headers.end() || it->second.empty()) return std::string();
  return it->second.front();
}

}  // namespace uni::nats
