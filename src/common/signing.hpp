// Code provenance: ed25519 signing keys (libsodium), module signatures and
// the files that hold them (docs/security.md §7). A signature is over the
// module's hash, with a domain prefix; it travels beside the module (the
// `.sig` file next to it, PUT_MODULE and MODULE, the NATS object's headers)
// and a worker started with --trust checks it before it loads the module.
//
// Files, one record a line ('#' starts a comment):
//   NAME.signing      uni-signing-secret-v1 <128 hex: libsodium secret key> NAME   (mode 0600)
//   NAME.signing.pub  uni-signing-key-v1 <64 hex: public key> NAME
//   MODULE.sig        uni-module-signature-v1 <64 hex: module hash> <64 hex: public key>
//                     <128 hex: signature> NAME
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/hash.hpp"

namespace uni {

struct SigningPublicKey {
  std::array<std::uint8_t, 32> bytes{};
  std::string name;
  std::string hex() const;
};

struct SigningSecretKey {
  std::array<std::uint8_t, 64> bytes{};  // libsodium's: seed then public key
  std::string name;
  SigningPublicKey public_key() const;
};

// A signature as it travels on the wire: the signer's public key (32 bytes)
// then the ed25519 signature (64 bytes).
inline constexpr std::size_t kModuleSignatureBytes = 96;

// Writes a new key pair: `stem`.signing (mode 0600, refused if it exists)
// and `stem`.signing.pub; the key's name is the stem's file name. Returns
// the two paths. Throws std::runtime_error naming the file.
std::pair<std::string, std::string> write_signing_key_pair(const std::string& stem);

// Reads a secret key file. Refuses (std::runtime_error, naming the file) one
// that others than its owner may read or write, as ssh does.
SigningSecretKey read_signing_secret_key(const std::string& path);

// Reads public keys: lines of .signing.pub files, concatenated.
std::vector<SigningPublicKey> read_signing_public_keys(const std::string& path);

// Reads module hashes, one a line (64 hex, anything after a blank ignored).
std::vector<ModuleHash> read_module_hashes(const std::string& path);

// The 96-byte wire signature of `hash` by `key`.
std::string sign_module(const ModuleHash& hash, const SigningSecretKey& key);

// Whether `signature` (96 bytes) is `key`'s signature of `hash`.
bool signature_is_valid(std::string_view signature, const ModuleHash& hash);
// The signer's public key of a 96-byte signature.
std::string_view signature_signer(std::string_view signature);

// A .sig file's line for `signature` of `hash`, and the signatures of `hash`
// in the text of a .sig file (lines for other hashes are skipped).
std::string signature_line(const ModuleHash& hash, std::string_view signature,
                           const std::string& name);
std::vector<std::string> signatures_in(std::string_view sig_file_text, const ModuleHash& hash);

}  // namespace uni
