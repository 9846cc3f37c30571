// The worker's module allow-list and trusted signers (see module_policy.hpp).
#include "worker/module_policy.hpp"

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace uni::worker {

ModulePolicy ModulePolicy::from_files(const std::vector<std::string>& trust_files,
                                      const std::vector<std::string>& allow_files) {
  ModulePolicy policy;
  for (const std::string& file : trust_files)
    for (SigningPublicKey& key : read_signing_public_keys(file))
      policy.trusted_.push_back(std::move(key));
  for (const std::string& file : allow_files) {
    std::vector<ModuleHash> hashes = read_module_hashes(file);
    if (hashes.empty()) throw std::runtime_error(file + " lists no module hash");
    policy.allowed_.insert(hashes.begin(), hashes.end());
  }
  return policy;
}

std::string ModulePolicy::approve(const ModuleHash& hash,
                                  const std::vector<std::string>& signatures) {
  if (approved(hash)) return {};
  const std::string refused = "module " + hash.hex().substr(0, 12) + " is refused by this worker: ";
  const std::string listed = allowed_.empty() ? "" : "it is not in --allow-modules";
  if (trusted_.empty()) return refused + listed;
  const std::string and_ = listed.empty() ? "it" : listed + ", and it";
  std::vector<std::string> untrusted;
  for (const std::string& signature : signatures) {
    std::string_view signer = signature_signer(signature);
    const SigningPublicKey* key = nullptr;
    for (const SigningPublicKey& k : trusted_)
      if (signer.size() == k.bytes.size() && std::memcmp(signer.data(), k.bytes.data(), 32) == 0)
        key = &k;
    if (!key) {
      SigningPublicKey other;
      std::memcpy(other.bytes.data(), signer.data(), std::min<std::size_t>(signer.size(), 32));
      untrusted.push_back(other.hex().substr(0, 12));
      continue;
    }
    if (signature_is_valid(signature, hash)) {
      approved_.insert(hash);
      return {};
    }
    return refused + and_ + "s signature by '" + key->name + "' does not verify";
  }
  if (signatures.empty())
    return refused + and_ +
           " carries no signature (sign it with `uni sign`, which writes the .sig file the "
           "boss sends beside it; a signature reaches the cluster with the module's first upload)";
  std::string keys;
  for (const std::string& k : untrusted) keys += (keys.empty() ? "" : ", ") + k;
  return refused + and_ + " is signed only by keys this worker does not trust (" + keys +
         "): see --trust";
}

std::string ModulePolicy::describe() const {
  std::string out;
  if (!trusted_.empty()) {
    out = "modules signed by ";
    for (std::size_t i = 0; i < trusted_.size(); ++i) out += (i ? ", " : "") + trusted_[i].name;
  }
  if (!allowed_.empty())
    out += (out.empty() ? "modules among " : " or among ") + std::to_string(allowed_.size()) +
           " allowed hash(es)";
  return out;
}

}  // namespace uni::worker
