// NATS nkeys, made and read by uni itself: Debian ships no `nsc`/`nk`, and
// nats.c 3.4.1 can sign with a seed (nats_Sign) but cannot create one or derive
// its public key. An nkey is an ed25519 key pair (libsodium) written as
// base32 (RFC 4648, no padding) of a prefix byte, the 32 key bytes and a
// CRC-16/XMODEM, little-endian: "SU..." is a user's seed, "U..." its public key.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace uni::nats {

class NKey {
 public:
  // A fresh user key pair from libsodium's random source.
  static NKey generate_user();
  // Reads an encoded user seed ("SU..."; surrounding whitespace ignored).
  // Throws std::invalid_argument saying what is wrong (length, alphabet,
  // checksum, not a user seed) without echoing the secret.
  static NKey from_seed(std::string_view encoded_seed);

  std::string seed() const;        // "SU...", 58 characters: the secret
  std::string public_key() const;  // "U...", 56 characters: what the server lists
  // The raw 64-byte ed25519 signature of `data`, as the server checks a nonce.
  std::string sign(std::string_view data) const;

  NKey(const NKey&) = default;
  NKey& operator=(const NKey&) = default;
  ~NKey();  // wipes the secret key

 private:
  NKey() = default;
  std::array<std::uint8_t, 32> seed_{};
  std::array<std::uint8_t, 32> public_{};
  std::array<std::uint8_t, 64> secret_{};  // libsodium's seed || public key
};

// The checked encoding itself, exposed for tests and other key types.
std::uint16_t nkey_crc16(std::string_view data);
std::string base32_encode(std::string_view data);  // RFC 4648 alphabet, no padding
// Throws std::invalid_argument on a character outside the alphabet.
std::string base32_decode(std::string_view text);

}  // namespace uni::nats
