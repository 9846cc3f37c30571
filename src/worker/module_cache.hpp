// The worker's module cache on disk: one file per module, named by its hash
// (<dir>/<hex>.so), written atomically after the hash is verified. It is
// bounded by size: modules no task is using go least-recently-used first.
// Several workers on one host may share a directory: a worker holds a shared
// flock on each module it uses, and eviction skips files someone holds.
// Nothing is loaded from the files themselves: each module in use has a
// sealed image (module_image.hpp) made from its file and checked against its
// hash at its first use, and again whenever the file has changed since; a
// file that does not match is discarded (and restored from the image, or
// fetched again).
#pragma once

#include <sys/stat.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/hash.hpp"
#include "common/unique_fd.hpp"
#include "worker/module_image.hpp"
#include "worker/module_policy.hpp"

namespace uni::worker {

class ModuleCache {
 public:
  // Creates the directory if missing and indexes the modules already there.
  ModuleCache(std::string dir, std::uint64_t limit_bytes);

  const std::string& directory() const { return dir_; }
  const std::string& path(const ModuleHash& hash) const;  // valid until the next call
  // The sealed, verified image of a module acquired (a memfd), or -1.
  int image(const ModuleHash& hash) const;

  // Takes a reference for a task about to use the module. Returns false if the
  // module is not in the cache, or its file does not match its hash (it is
  // then discarded, and the log says so): fetch it, store() it, then acquire
  // again.
  bool acquire(const ModuleHash& hash);
  void release(const ModuleHash& hash);

  // Which modules may be stored and acquired (--trust, --allow-modules):
  // one not approved yet is not acquired, so that it is fetched with its
  // signatures.
  void set_policy(ModulePolicy policy) { policy_ = std::move(policy); }
  const ModulePolicy& policy() const { return policy_; }

  // Verifies the module (its hash, then the policy with its signatures) and
  // writes it. Returns an error text, or nullopt.
  std::optional<std::string> store(const ModuleHash& hash, const std::string& bytes,
                                   const std::vector<std::string>& signatures = {});

  // Deletes unused modules, oldest use first, until the cache fits its limit.
  // Returns the paths removed (executors unload them).
  std::vector<std::string> evict();

  std::uint64_t bytes() const { return bytes_; }

  // Writes and removes a small file in the directory, as store() would: why
  // the cache cannot be written (gone, read-only, disk full), or nullopt.
  std::optional<std::string> unusable() const;
  const std::string& dir() const { return dir_; }

 private:
  // What identifies the file an image was made from or checked against: a
  // file changed since (written, renamed over, even with its mtime put back:
  // the ctime moves) is checked again.
  struct FileId {
    dev_t dev = 0;
    ino_t ino = 0;
    off_t size = 0;
    std::int64_t mtime_ns = 0, ctime_ns = 0;
    bool operator==(const FileId&) const = default;
  };
  struct Entry {
    std::uint64_t size = 0;
    std::uint64_t last_use = 0;  // logical clock
    std::uint32_t users = 0;
    UniqueFd lock;      // open with a shared flock while users > 0
    ModuleImage image;  // kept past its use, within kIdleImageBytes
    FileId image_file;  // the file the image was last checked against
  };
  static FileId file_id(const struct stat& st);
  // Makes or re-checks the image of `e` from its locked file; false if the
  // file does not match (then it is gone from the directory).
  bool check_file(const ModuleHash& hash, Entry& e, int file, const struct stat& st);
  void trim_idle_images();

  std::string dir_;
  std::uint64_t limit_;
  ModulePolicy policy_;
  std::uint64_t bytes_ = 0;
  std::uint64_t image_bytes_ = 0;  // images held, in use or not
  std::uint64_t clock_ = 0;
  std::unordered_map<ModuleHash, Entry> entries_;
  mutable std::optional<std::pair<ModuleHash, std::string>> last_path_;
};

}  // namespace uni::worker
