// Module store: hash-verified, size-limited, LRU over unpinned modules.
#include "manager/module_store.hpp"

#include "common/log.hpp"
#include "common/module_file.hpp"
#include "common/signing.hpp"
#include "proto/messages.hpp"

namespace uni::manager {

void ModuleStore::add_signatures(const ModuleHash& hash, StoredModule& module,
                                 const std::vector<std::string>& signatures) {
  for (const std::string& s : signatures) {
    if (module.signatures.size() >= proto::kMaxModuleSignatures) return;
    if (!signature_is_valid(s, hash)) continue;
    bool known = false;
    for (const std::string& kept : module.signatures)
      known |= signature_signer(kept) == signature_signer(s);
    if (!known) module.signatures.push_back(s);
  }
}

std::optional<std::string> ModuleStore::put(const ModuleHash& hash, std::string platform,
                                            std::string bytes,
                                            const std::vector<std::string>& signatures) {
  if (auto stored = modules_.find(hash); stored != modules_.end()) {
    // Content-addressed: same hash, same bytes; only signatures may be new.
    add_signatures(hash, stored->second, signatures);
    return std::nullopt;
  }
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
  auto [it, added] =
      modules_.emplace(hash, StoredModule{std::move(bytes), std::move(platform), lru_.begin(), {}});
  add_signatures(hash, it->second, signatures);
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
