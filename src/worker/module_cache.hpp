// The worker's module cache on disk: one file per module, named by its hash
// (<dir>/<hex>.so), written atomically after the hash is verified. It is
// bounded by size: modules no task is using go least-recently-used first.
// Several workers on one host may share a directory: a worker holds a shared
// flock on each module it uses, and eviction skips files someone holds.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/hash.hpp"
#include "common/unique_fd.hpp"

namespace uni::worker {

class ModuleCache {
 public:
  // Creates the directory if missing and indexes the modules already there.
  ModuleCache(std::string dir, std::uint64_t limit_bytes);

  const std::string& path(const ModuleHash& hash) const;  // valid until the next call

  // Takes a reference for a task about to use the module. Returns false if the
  // module is not in the cache (fetch it, store() it, then acquire again).
  bool acquire(const ModuleHash& hash);
  void release(const ModuleHash& hash);

  // Verifies and writes the module. Returns an error text, or nullopt.
  std::optional<std::string> store(const ModuleHash& hash, const std::string& bytes);

  // Deletes unused modules, oldest use first, until the cache fits its limit.
  // Returns the paths removed (executors unload them).
  std::vector<std::string> evict();

  std::uint64_t bytes() const { return bytes_; }

  // Writes and removes a small file in the directory, as store() would: why
  // the cache cannot be written (gone, read-only, disk full), or nullopt.
  std::optional<std::string> unusable() const;
  const std::string& dir() const { return dir_; }

 private:
  struct Entry {
    std::uint64_t size = 0;
    std::uint64_t last_use = 0;  // logical clock
    std::uint32_t users = 0;
    UniqueFd lock;  // open with a shared flock while users > 0
  };
  std::string dir_;
  std::uint64_t limit_;
  std::uint64_t bytes_ = 0;
  std::uint64_t clock_ = 0;
  std::unordered_map<ModuleHash, Entry> entries_;
  mutable std::optional<std::pair<ModuleHash, std::string>> last_path_;
};

}  // namespace uni::worker
