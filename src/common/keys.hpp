// Authkeys and the CURVE keys derived from them. One secret, the
// authkey, yields the manager's keypair and the shared client keypair through
// Argon2id (libsodium crypto_pwhash), so a recorded handshake does not make a
// weak authkey cheap to guess offline. Derived keys are cached beside the
// default key file so that a CLI call does not pay the KDF every time.
#pragma once

#include <optional>
#include <string>

namespace uni {

struct CurveKeys {
  std::string server_public, server_secret;  // 32 raw bytes each
  std::string client_public, client_secret;
};

// $UNI_CONFIG_DIR, else $XDG_CONFIG_HOME/uni, else $HOME/.config/uni.
std::string config_dir();
std::string default_authkey_path();

// The authkey to use: the flag's value, else the file's content (trailing
// newline dropped), else $UNI_AUTHKEY, else the default key file if it exists.
// Throws std::runtime_error if the key file it reads (named, or the default
// one) cannot be read or is empty: a local problem, reported as such.
std::optional<std::string> find_authkey(const std::string& flag, const std::string& file);

// Creates a random authkey in the default key file (mode 0600) and returns it.
std::string create_default_authkey();

// Argon2id derivation, cached in config_dir()/derived/ (mode 0600).
CurveKeys derive_curve_keys(const std::string& authkey);

}  // namespace uni
