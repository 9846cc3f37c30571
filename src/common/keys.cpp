// Authkey discovery, creation and CURVE key derivation.
#include "common/keys.hpp"

#include <sodium.h>
#include <sys/stat.h>

#include <cstdlib>
#include <stdexcept>

#include "common/files.hpp"
#include "common/log.hpp"

namespace uni {

namespace {

// Fixed and documented (docs/security.md): the salt only separates uni's use
// of the authkey from other uses; the memory-hard cost is what protects it.
constexpr unsigned char kSalt[crypto_pwhash_SALTBYTES] = {'u', 'n', 'i', '.', 'a', 'u', 't', 'h',
                                                          'k', 'e', 'y', '.', 'v', '1', 0,   0};
constexpr std::size_t kKeyBytes = crypto_box_PUBLICKEYBYTES;
static_assert(crypto_box_PUBLICKEYBYTES == 32 && crypto_box_SECRETKEYBYTES == 32 &&
              crypto_box_SEEDBYTES == 32);

std::string env(const char* name) {
  const char* value = std::getenv(name);
  return value ? value : "";
}

std::string trim_newline(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

std::string cache_path(const std::string& authkey) {
  unsigned char digest[16];
  crypto_generichash(digest, sizeof(digest), reinterpret_cast<const unsigned char*>(authkey.data()),
                     authkey.size(), kSalt, sizeof(kSalt));
  char hex[2 * sizeof(digest) + 1];
  sodium_bin2hex(hex, sizeof(hex), digest, sizeof(digest));
  return config_dir() + "/derived/" + hex + ".keys";
}

CurveKeys from_blob(const std::string& blob) {
  return CurveKeys{blob.substr(0, 32), blob.substr(32, 32), blob.substr(64, 32),
                   blob.substr(96, 32)};
}

}  // namespace

std::string config_dir() {
  if (std::string dir = env("UNI_CONFIG_DIR"); !dir.empty()) return dir;
  if (std::string xdg = env("XDG_CONFIG_HOME"); !xdg.empty()) return xdg + "/uni";
  std::string home = env("HOME");
  if (home.empty())
    throw std::runtime_error("cannot find the uni config directory: HOME is not set");
  return home + "/.config/uni";
}

std::string default_authkey_path() { return config_dir() + "/authkey"; }

std::optional<std::string> find_authkey(const std::string& flag, const std::string& file) {
  if (!flag.empty()) {
    log::debug("authkey: from --authkey");
    return flag;
  }
  auto from_file = [](const std::string& path) {
    log::debug("authkey: from the file {}", path);
    std::string key = trim_newline(read_file(path));
    if (key.empty())
      throw std::runtime_error("authkey file " + path +
                               " is empty: write the shared secret into it");
    return key;
  };
  if (!file.empty()) return from_file(file);
  if (std::string key = env("UNI_AUTHKEY"); !key.empty()) {
    log::debug("authkey: from $UNI_AUTHKEY");
    return key;
  }
  std::string path = default_authkey_path();
  if (exists(path)) return from_file(path);
  log::debug("authkey: none given, and no default key file at {}", path);
  return std::nullopt;
}

std::string create_default_authkey() {
  if (sodium_init() < 0) throw std::runtime_error("libsodium failed to initialise");
  unsigned char raw[32];
  randombytes_buf(raw, sizeof(raw));
  char hex[2 * sizeof(raw) + 1];
  sodium_bin2hex(hex, sizeof(hex), raw, sizeof(raw));
  make_directories(config_dir(), 0700);
  std::string path = default_authkey_path();
  write_file_atomic(path, std::string(hex) + "\n", 0600);
  return hex;
}

CurveKeys derive_curve_keys(const std::string& authkey) {
  if (sodium_init() < 0) throw std::runtime_error("libsodium failed to initialise");
  // No config directory (no HOME at all) only means no cache.
  std::string cached;
  try {
    cached = cache_path(authkey);
  } catch (const std::exception& e) {
    log::warn("cannot cache derived keys: {}", e.what());
  }
  if (!cached.empty() && exists(cached)) {
    try {
      std::string blob = read_file(cached);
      if (blob.size() == 4 * kKeyBytes) {
        log::debug("CURVE keys: from the cache {}", cached);
        return from_blob(blob);
      }
      log::warn("ignoring malformed key cache {}", cached);
    } catch (const std::exception& e) {
      log::warn("ignoring unreadable key cache: {}", e.what());
    }
  }

  log::debug("CURVE keys: deriving them from the authkey (Argon2id, about a second)");
  unsigned char seeds[2 * crypto_box_SEEDBYTES];
  if (crypto_pwhash(seeds, sizeof(seeds), authkey.data(), authkey.size(), kSalt,
                    crypto_pwhash_OPSLIMIT_INTERACTIVE, crypto_pwhash_MEMLIMIT_INTERACTIVE,
                    crypto_pwhash_ALG_ARGON2ID13) != 0)
    throw std::runtime_error("deriving keys from the authkey failed: out of memory");
  unsigned char keys[4][kKeyBytes];
  crypto_box_seed_keypair(keys[0], keys[1], seeds);
  crypto_box_seed_keypair(keys[2], keys[3], seeds + crypto_box_SEEDBYTES);
  sodium_memzero(seeds, sizeof(seeds));
  std::string blob(reinterpret_cast<const char*>(keys), sizeof(keys));
  sodium_memzero(keys, sizeof(keys));

  if (cached.empty()) return from_blob(blob);
  try {
    make_directories(config_dir() + "/derived", 0700);
    write_file_atomic(cached, blob, 0600);
  } catch (const std::exception& e) {
    log::warn("cannot cache derived keys (each start will derive them again): {}", e.what());
  }
  return from_blob(blob);
}

}  // namespace uni
