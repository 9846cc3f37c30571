// Which modules a worker runs (--trust, --allow-modules; docs/security.md §7).
// With neither, any module of the cluster. With either, only a module whose
// hash is allow-listed, or that arrived with a valid signature by a trusted
// key; anything else is refused before it is stored or loaded, and its tasks
// fail saying why. Signatures are checked when a module arrives: one found in
// the cache from an earlier run is fetched again once, with its signatures.
#pragma once

#include <string>
#include <unordered_set>
#include <vector>

#include "common/hash.hpp"
#include "common/signing.hpp"

namespace uni::worker {

class ModulePolicy {
 public:
  ModulePolicy() = default;  // allows every module

  // Reads public key files (--trust) and hash lists (--allow-modules).
  // Throws std::runtime_error naming the file and line of a bad record.
  static ModulePolicy from_files(const std::vector<std::string>& trust_files,
                                 const std::vector<std::string>& allow_files);

  bool restricts() const { return !trusted_.empty() || !allowed_.empty(); }
  // Allowed: allow-listed, approved earlier in this process, or no policy.
  bool approved(const ModuleHash& hash) const {
    return !restricts() || allowed_.count(hash) || approved_.count(hash);
  }
  // A module that arrived with these signatures (96 bytes each): "" if it
  // may run (then remembered), else why not, naming the module.
  std::string approve(const ModuleHash& hash, const std::vector<std::string>& signatures);
  // For the log: "modules signed by ci, release or among 3 allowed hashes".
  std::string describe() const;

 private:
  std::vector<SigningPublicKey> trusted_;
  std::unordered_set<ModuleHash> allowed_;
  std::unordered_set<ModuleHash> approved_;
};

}  // namespace uni::worker
