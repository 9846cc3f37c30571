// ed25519 module signatures and their files (see signing.hpp).
#include "common/signing.hpp"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <sstream>
#include <stdexcept>

#include "common/files.hpp"
#include "common/unique_fd.hpp"

namespace uni {

namespace {

constexpr std::string_view kSecretTag = "uni-signing-secret-v1";
constexpr std::string_view kPublicTag = "uni-signing-key-v1";
constexpr std::string_view kSignatureTag = "uni-module-signature-v1";
// What is signed: this prefix, then the module's 32-byte hash. The prefix
// keeps a module signature from meaning anything else.
constexpr std::string_view kSignedPrefix = "uni module signature v1";

std::string hex_of(const std::uint8_t* data, std::size_t size) {
  std::string out(2 * size + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), data, size);
  out.pop_back();
  return out;
}

template <std::size_t N>
bool from_hex(std::string_view hex, std::array<std::uint8_t, N>& out) {
  std::size_t written = 0;
  return hex.size() == 2 * N &&
         sodium_hex2bin(out.data(), N, hex.data(), hex.size(), nullptr, &written, nullptr) == 0 &&
         written == N;
}

// The records of a key or signature file: its lines, split at blanks,
// without comments and empty lines; numbered for messages.
struct Record {
  int line = 0;
  std::vector<std::string> words;
};

std::vector<Record> records_of(std::string_view text) {
  std::vector<Record> out;
  std::istringstream in{std::string(text)};
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    if (auto hash = line.find('#'); hash != std::string::npos) line.resize(hash);
    std::istringstream words(line);
    Record r{number, {}};
    for (std::string w; words >> w;) r.words.push_back(w);
    if (!r.words.empty()) out.push_back(std::move(r));
  }
  return out;
}

std::string signed_message(const ModuleHash& hash) {
  std::string message(kSignedPrefix);
  message.append(hash.raw());
  return message;
}

std::string name_of_stem(const std::string& stem) {
  return std::filesystem::path(stem).filename().string();
}

}  // namespace

std::string SigningPublicKey::hex() const { return hex_of(bytes.data(), bytes.size()); }

SigningPublicKey SigningSecretKey::public_key() const {
  SigningPublicKey pk;
  crypto_sign_ed25519_sk_to_pk(pk.bytes.data(), bytes.data());
  pk.name = name;
  return pk;
}

std::pair<std::string, std::string> write_signing_key_pair(const std::string& stem) {
  if (sodium_init() < 0) throw std::runtime_error("libsodium cannot be initialised");
  std::string name = name_of_stem(stem);
  if (name.empty() || name.find_first_of(" \t\n#") != std::string::npos)
    throw std::runtime_error("a signing key's name (" + stem +
                             ") must be a file name without blanks or '#'");
  std::string secret_path = stem + ".signing", public_path = stem + ".signing.pub";
  SigningSecretKey sk;
  SigningPublicKey pk;
  crypto_sign_keypair(pk.bytes.data(), sk.bytes.data());
  std::string secret_line =
      std::string(kSecretTag) + " " + hex_of(sk.bytes.data(), 64) + " " + name + "\n";
  // O_EXCL: a key is never overwritten; 0600 from its creation on.
  UniqueFd fd(::open(secret_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!fd) throw std::runtime_error("cannot create " + secret_path + ": " + std::strerror(errno));
  ::fchmod(fd.get(), 0600);
  bool ok = ::write(fd.get(), secret_line.data(), secret_line.size()) ==
            static_cast<ssize_t>(secret_line.size());
  sodium_memzero(secret_line.data(), secret_line.size());
  if (!ok || ::fsync(fd.get()) != 0) {
    ::unlink(secret_path.c_str());
    throw std::runtime_error("cannot write " + secret_path + ": " + std::strerror(errno));
  }
  write_file_atomic(public_path, std::string(kPublicTag) + " " + pk.hex() + " " + name + "\n",
                    0644);
  return {secret_path, public_path};
}

SigningSecretKey read_signing_secret_key(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    throw std::runtime_error("cannot read signing key " + path + ": " + std::strerror(errno));
  if (st.st_uid != ::geteuid())
    throw std::runtime_error("signing key " + path +
                             " belongs to another user: refused (a key must be its owner's alone)");
  if (st.st_mode & 077) {
    char mode[8];
    std::snprintf(mode, sizeof(mode), "%04o", static_cast<unsigned>(st.st_mode & 07777));
    throw std::runtime_error("signing key " + path + " is accessible by others (mode " + mode +
                             "): refused; chmod 600 " + path);
  }
  std::string text = read_file(path);
  std::vector<Record> records = records_of(text);
  sodium_memzero(text.data(), text.size());
  if (records.size() != 1 || records[0].words.size() < 2 || records[0].words[0] != kSecretTag)
    throw std::runtime_error(path + " is not a uni signing key (uni sign --new-key makes one)");
  SigningSecretKey key;
  if (!from_hex(records[0].words[1], key.bytes))
    throw std::runtime_error(path + ": the key is not 128 hex digits");
  sodium_memzero(records[0].words[1].data(), records[0].words[1].size());
  key.name = records[0].words.size() > 2 ? records[0].words[2] : name_of_stem(path);
  return key;
}

std::vector<SigningPublicKey> read_signing_public_keys(const std::string& path) {
  std::vector<SigningPublicKey> keys;
  for (const Record& r : records_of(read_file(path))) {
    SigningPublicKey key;
    if (r.words.size() < 2 || r.words[0] != kPublicTag || !from_hex(r.words[1], key.bytes))
      throw std::runtime_error(path + ":" + std::to_string(r.line) +
                               ": not a signing public key (expected \"" + std::string(kPublicTag) +
                               " <64 hex digits> NAME\")");
    key.name = r.words.size() > 2 ? r.words[2] : key.hex().substr(0, 12);
    keys.push_back(std::move(key));
  }
  if (keys.empty()) throw std::runtime_error(path + " holds no signing public key");
  return keys;
}

std::vector<ModuleHash> read_module_hashes(const std::string& path) {
  std::vector<ModuleHash> hashes;
  for (const Record& r : records_of(read_file(path))) {
    std::optional<ModuleHash> hash = ModuleHash::from_hex(r.words[0]);
    if (!hash)
      throw std::runtime_error(path + ":" + std::to_string(r.line) +
                               ": not a module hash (64 hex digits, as `uni inspect` shows)");
    hashes.push_back(*hash);
  }
  return hashes;
}

std::string sign_module(const ModuleHash& hash, const SigningSecretKey& key) {
  std::string message = signed_message(hash);
  std::string out(kModuleSignatureBytes, '\0');
  SigningPublicKey pk = key.public_key();
  std::memcpy(out.data(), pk.bytes.data(), pk.bytes.size());
  crypto_sign_detached(reinterpret_cast<unsigned char*>(out.data()) + 32, nullptr,
                       reinterpret_cast<const unsigned char*>(message.data()), message.size(),
                       key.bytes.data());
  return out;
}

std::string_view signature_signer(std::string_view signature) {
  return signature.size() == kModuleSignatureBytes ? signature.substr(0, 32) : std::string_view();
}

bool signature_is_valid(std::string_view signature, const ModuleHash& hash) {
  if (signature.size() != kModuleSignatureBytes) return false;
  std::string message = signed_message(hash);
  const auto* raw = reinterpret_cast<const unsigned char*>(signature.data());
  return crypto_sign_verify_detached(raw + 32,
                                     reinterpret_cast<const unsigned char*>(message.data()),
                                     message.size(), raw) == 0;
}

std::string signature_line(const ModuleHash& hash, std::string_view signature,
                           const std::string& name) {
  const auto* raw = reinterpret_cast<const std::uint8_t*>(signature.data());
  return std::string(kSignatureTag) + " " + hash.hex() + " " + hex_of(raw, 32) + " " +
         hex_of(raw + 32, 64) + " " + name + "\n";
}

std::vector<std::string> signatures_in(std::string_view sig_file_text, const ModuleHash& hash) {
  std::vector<std::string> out;
  for (const Record& r : records_of(sig_file_text)) {
    std::array<std::uint8_t, 32> signer{};
    std::array<std::uint8_t, 64> signature{};
    if (r.words.size() < 4 || r.words[0] != kSignatureTag || r.words[1] != hash.hex() ||
        !from_hex(r.words[2], signer) || !from_hex(r.words[3], signature))
      continue;
    std::string wire(reinterpret_cast<const char*>(signer.data()), signer.size());
    wire.append(reinterpret_cast<const char*>(signature.data()), signature.size());
    out.push_back(std::move(wire));
  }
  return out;
}

}  // namespace uni
