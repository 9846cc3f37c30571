// nkey encoding (nats-io/nkeys strkey.go and crc16.go) over libsodium ed25519.
#include "nats/client/nkey.hpp"

#include <sodium.h>

#include <stdexcept>

namespace uni::nats {

namespace {

// Prefix bytes of nats-io/nkeys: the top five bits pick the first base32
// letter ('S' for seeds, 'U' for users).
constexpr std::uint8_t kPrefixSeed = 18 << 3;
constexpr std::uint8_t kPrefixUser = 20 << 3;

constexpr char kBase32Alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

void init_sodium() {
  if (sodium_init() < 0) throw std::runtime_error("libsodium could not be initialised");
}

std::string with_crc(std::string raw) {
  std::uint16_t crc = nkey_crc16(raw);
  raw += static_cast<char>(crc & 0xff);
  raw += static_cast<char>(crc >> 8);
  return raw;
}

}  // namespace

std::uint16_t nkey_crc16(std::string_view data) {
  // CRC-16/XMODEM (polynomial 0x1021, initial 0), bit by bit: keys are short,
  // so the 512-byte table of the Go original buys nothing here.
  std::uint16_t crc = 0;
  for (char c : data) {
    crc ^= static_cast<std::uint16_t>(static_cast<std::uint8_t>(c)) << 8;
    for (int bit = 0; bit < 8; ++bit)
      crc = (crc & 0x8000) ? static_cast<std::uint16_t>((crc << 1) ^ 0x1021)
                           : static_cast<std::uint16_t>(crc << 1);
  }
  return crc;
}

std::string base32_encode(std::string_view data) {
  std::string out;
  std::uint32_t buffer = 0;
  int bits = 0;
  for (char c : data) {
    buffer = (buffer << 8) | static_cast<std::uint8_t>(c);
    bits += 8;
    while (bits >= 5) {
      out += kBase32Alphabet[(buffer >> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += kBase32Alphabet[(buffer << (5 - bits)) & 31];
  return out;
}

std::string base32_decode(std::string_view text) {
  std::string out;
  std::uint32_t buffer = 0;
  int bits = 0;
  for (char c : text) {
    int value;
    if (c >= 'A' && c <= 'Z') value = c - 'A';
    else if (c >= '2' && c <= '7') value = c - '2' + 26;
    else throw std::invalid_argument("an nkey holds only A-Z and 2-7");
    buffer = (buffer << 5) | static_cast<std::uint32_t>(value);
    bits += 5;
    if (bits >= 8) {
      out += static_cast<char>((buffer >> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return out;
}

NKey NKey::generate_user() {
  init_sodium();
  NKey key;
  randombytes_buf(key.seed_.data(), key.seed_.size());
  crypto_sign_seed_keypair(key.public_.data(), key.secret_.data(), key.seed_.data());
  return key;
}

NKey NKey::from_seed(std::string_view encoded) {
  init_sodium();
  while (!encoded.empty() && std::isspace(static_cast<unsigned char>(encoded.back())))
    encoded.remove_suffix(1);
  while (!encoded.empty() && std::isspace(static_cast<unsigned char>(encoded.front())))
    encoded.remove_prefix(1);
  if (encoded.size() != 58)
    throw std::invalid_argument("an nkey seed has 58 characters, this one has " +
                                std::to_string(encoded.size()));
  std::string raw = base32_decode(encoded);
  if (raw.size() != 36) throw std::invalid_argument("the nkey seed does not decode to 36 bytes");
  std::uint16_t crc = static_cast<std::uint16_t>(static_cast<std::uint8_t>(raw[34]) |
                                                 static_cast<std::uint8_t>(raw[35]) << 8);
  if (nkey_crc16(std::string_view(raw).substr(0, 34)) != crc)
    throw std::invalid_argument("the nkey seed's checksum is wrong (mistyped or truncated?)");
  auto b0 = static_cast<std::uint8_t>(raw[0]), b1 = static_cast<std::uint8_t>(raw[1]);
  std::uint8_t kind = static_cast<std::uint8_t>((b0 & 7) << 5 | (b1 & 248) >> 3);
  if ((b0 & 248) != kPrefixSeed) throw std::invalid_argument("this nkey is not a seed (S...)");
  if (kind != kPrefixUser)
    throw std::invalid_argument(
        "this nkey seed is not a user's (SU...): NATS clients use user keys");
  NKey key;
  std::copy(raw.begin() + 2, raw.begin() + 34, key.seed_.begin());
  sodium_memzero(raw.data(), raw.size());
  crypto_sign_seed_keypair(key.public_.data(), key.secret_.data(), key.seed_.data());
  return key;
}

NKey::~NKey() {
  sodium_memzero(seed_.data(), seed_.size());
  sodium_memzero(secret_.data(), secret_.size());
}

std::string NKey::seed() const {
  std::string raw;
  raw += static_cast<char>(kPrefixSeed | kPrefixUser >> 5);
  raw += static_cast<char>((kPrefixUser & 31) << 3);
  raw.append(reinterpret_cast<const char*>(seed_.data()), seed_.size());
  std::string out = base32_encode(with_crc(raw));
  sodium_memzero(raw.data(), raw.size());
  return out;
}

std::string NKey::public_key() const {
  std::string raw(1, static_cast<char>(kPrefixUser));
  raw.append(reinterpret_cast<const char*>(public_.data()), public_.size());
  return base32_encode(with_crc(raw));
}

std::string NKey::sign(std::string_view data) const {
  std::string signature(crypto_sign_BYTES, '\0');
  crypto_sign_detached(reinterpret_cast<unsigned char*>(signature.data()), nullptr,
                       reinterpret_cast<const unsigned char*>(data.data()), data.size(),
                       secret_.data());
  return signature;
}

}  // namespace uni::nats
