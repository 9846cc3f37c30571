// The manager's module store: module bytes by BLAKE2b-256 hash, verified on
// upload, kept in memory under a size limit. A module that queued or running
// tasks still need is pinned; the others go least-recently-used first.
#pragma once

#include <chrono>
#include <cstdint>
#include <list>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/hash.hpp"

namespace uni::manager {

struct StoredModule {
  std::string bytes;
  std::string platform;
  std::list<ModuleHash>::iterator lru;
  // Valid signatures of it that came with its uploads (one per signer),
  // passed on to workers with the module (common/signing.hpp).
  std::vector<std::string> signatures;
};

class ModuleStore {
 public:
  explicit ModuleStore(std::uint64_t limit_bytes) : limit_(limit_bytes) {}

  // Verifies that bytes hash to `hash` and form a uni module, then stores them.
  // Returns an error text for the uploader, or nullopt on success. Signatures
  // of the module that verify are kept with it (added to those of an earlier
  // upload); others are dropped.
  std::optional<std::string> put(const ModuleHash& hash, std::string platform, std::string bytes,
                                 const std::vector<std::string>& signatures = {});

  const StoredModule* find(const ModuleHash& hash);  // marks it recently used
  // A task needs the module: it is never evicted while pinned. Pins may come
  // before the module does (tasks are submitted before their module arrives).
  void pin(const ModuleHash& hash);
  void unpin(const ModuleHash& hash);

  std::size_t count() const { return modules_.size(); }
  std::uint64_t bytes() const { return bytes_; }

 private:
  static void add_signatures(const ModuleHash& hash, StoredModule& module,
                             const std::vector<std::string>& signatures);
  // Evicts unpinned modules, least recently used first, never `keep`.
  void evict(const ModuleHash& keep);
  std::uint64_t limit_;
  std::uint64_t bytes_ = 0;
  std::unordered_map<ModuleHash, StoredModule> modules_;
  std::unordered_map<ModuleHash, std::uint32_t> pins_;
  std::list<ModuleHash> lru_;  // front: most recently used
};

}  // namespace uni::manager
