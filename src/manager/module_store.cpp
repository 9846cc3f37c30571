// Module store: hash-verified, size-limited, LRU over unpinned modules.
#include "manager/module_store.hpp"

#include "common/log.hpp"
#include "common/module_file.hpp"

namespace uni::manager {

std::optional<std::string> ModuleStore::put(const ModuleHash& hash, std::string platform,
                                            std::string bytes) {
  if (modules_.count(hash)) return std::nullopt;  // content-addressed: same hash, same bytes
  ModuleHash actual = ModuleHash::of(bytes);
  if (actual != hash)
    return "module upload does not match its hash: announced " + hash.hex() + ", bytes hash to " +
           actual.hex();
  try {
    std::string tagged = check_module_image(bytes, "module " + hash.hex().substr(0, 12));
    if (tagged != platform)
      return "module " + hash.hex().substr(0, 12) + " is tagged for platform " + tagged +
             " but was uploaded as " + platform;
  } catch (const ModuleFileError& e) {
    return e.what();
  }
  bytes_ += bytes.size();
  lru_.push_front(hash);
  modules_.emplace(hash, StoredModule{std::move(bytes), std::move(platform), lru_.begin()});
  evict(hash);
  return std::nullopt;
}

const StoredModule* ModuleStore::find(const ModuleHash& hash) {
  auto it = modules_.find(hash);
  if (it == modules_.end()) return nullptr;
  lru_.splice(lru_.begin(), lru_, it->second.lru);
  return &it->second;
}

void ModuleStore::pin(const ModuleHash& hash) { ++pins_[hash]; }

void ModuleStore::unpin(const ModuleHash& hash) {
  auto it = pins_.find(hash);
  if (it != pins_.end() && --it->second == 0) pins_.erase(it);
}

void ModuleStore::evict(const ModuleHash& keep) {
  // Walk from the least recently used end; pinned modules and the one just
  // stored stay, whatever the size.
  auto it = lru_.end();
  while (bytes_ > limit_ && it != lru_.begin()) {
    --it;
    if (*it == keep || pins_.count(*it)) continue;
    auto entry = modules_.find(*it);
    log::info("module store over {} bytes: evicting {}", limit_, it->hex().substr(0, 12));
    bytes_ -= entry->second.bytes.size();
    modules_.erase(entry);
    it = lru_.erase(it);
  }
}

}  // namespace uni::manager
