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
  modules_.emplace(hash, StoredModule{std::move(bytes), std::move(platform), 0, lru_.begin()});
  evict();
  return std::nullopt;
}

const StoredModule* ModuleStore::find(const ModuleHash& hash) {
  auto it = modules_.find(hash);
  if (it == modules_.end()) return nullptr;
  lru_.splice(lru_.begin(), lru_, it->second.lru);
  return &it->second;
}

void ModuleStore::pin(const ModuleHash& hash) {
  auto it = modules_.find(hash);
  if (it != modules_.end()) ++it->second.pins;
}

void ModuleStore::unpin(const ModuleHash& hash) {
  auto it = modules_.find(hash);
  if (it != modules_.end() && it->second.pins > 0) --it->second.pins;
}

void ModuleStore::evict() {
  // Walk from the least recently used end; pinned modules stay whatever the size.
  auto it = lru_.end();
  while (bytes_ > limit_ && it != lru_.begin()) {
    --it;
    auto entry = modules_.find(*it);
    if (entry->second.pins > 0) continue;
    log::info("module store over {} bytes: evicting {}", limit_, it->hex().substr(0, 12));
    bytes_ -= entry->second.bytes.size();
    modules_.erase(entry);
    it = lru_.erase(it);
  }
}

}  // namespace uni::manager
