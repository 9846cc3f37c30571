// NKey: uni's own nkey encoding matches nats-io/nkeys (a published seed and
// its public key), round-trips, is refused when damaged, and signs so that
// nats.c's own nats_Sign (which decodes the seed itself) agrees byte for byte.
#include <gtest/gtest.h>
#include <nats/nats.h>
#include <sodium.h>

#include <cstdlib>

#include "nats/client/nkey.hpp"

namespace uni::nats {
namespace {

// From nats-io/nkeys README.md: a user seed and the public key it yields.
constexpr const char* kSeed = "SUAKYRHVIOREXV7EUZTBHUHL7NUMHPMAS7QMDU3GTIUWEI5LDNOXD43IZY";
constexpr const char* kPublic = "UD466L6EBCM3YY5HEGHJANNTN4LSKTSUXTH7RILHCKEQMQHTBNLHJJXT";

TEST(NKey, KnownSeedGivesItsPublishedPublicKey) {
  NKey key = NKey::from_seed(kSeed);
  EXPECT_EQ(key.public_key(), kPublic);
  EXPECT_EQ(key.seed(), kSeed);
}

TEST(NKey, GeneratedKeysRoundTripAndLookRight) {
  NKey key = NKey::generate_user();
  std::string seed = key.seed(), pub = key.public_key();
  EXPECT_EQ(seed.size(), 58u);
  EXPECT_EQ(seed.substr(0, 2), "SU");
  EXPECT_EQ(pub.size(), 56u);
  EXPECT_EQ(pub[0], 'U');
  EXPECT_EQ(NKey::from_seed(seed + "\n").public_key(), pub);
  EXPECT_NE(NKey::generate_user().public_key(), pub);
}

TEST(NKey, SignatureMatchesNatsCSignAndVerifies) {
  NKey key = NKey::generate_user();
  const std::string nonce = "a nonce the server sent";
  std::string ours = key.sign(nonce);
  ASSERT_EQ(nats_Open(-1), NATS_OK);  // nats_Sign needs the library initialised
  unsigned char* theirs = nullptr;
  int length = 0;
  ASSERT_EQ(nats_Sign(key.seed().c_str(), nonce.c_str(), &theirs, &length), NATS_OK);
  std::string theirs_text(reinterpret_cast<char*>(theirs), static_cast<std::size_t>(length));
  std::free(theirs);
  EXPECT_EQ(ours, theirs_text);  // ed25519 signatures are deterministic
  // And the public key we print is the one that verifies it.
  std::string raw = base32_decode(key.public_key());
  ASSERT_EQ(raw.size(), 35u);
  EXPECT_EQ(crypto_sign_verify_detached(reinterpret_cast<const unsigned char*>(ours.data()),
                                        reinterpret_cast<const unsigned char*>(nonce.data()),
                                        nonce.size(),
                                        reinterpret_cast<const unsigned char*>(raw.data() + 1)),
            0);
}

TEST(NKey, DamagedSeedsAreRefusedWithAReason) {
  auto message = [](const std::string& text) {
    try {
      NKey::from_seed(text);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  std::string seed = kSeed;
  std::string typo = seed;
  typo[10] = typo[10] == 'A' ? 'B' : 'A';
  EXPECT_NE(message(typo).find("checksum"), std::string::npos);
  EXPECT_NE(message(seed.substr(0, 57)).find("58 characters"), std::string::npos);
  std::string bad_char = seed;
  bad_char[5] = '1';
  EXPECT_NE(message(bad_char).find("A-Z and 2-7"), std::string::npos);
  // 58 characters with a good checksum, but an account seed (SA...) and a
  // user public key's prefix: neither is a user seed.
  auto encode = [](std::string raw) {
    std::uint16_t crc = nkey_crc16(raw);
    raw += static_cast<char>(crc & 0xff);
    raw += static_cast<char>(crc >> 8);
    return base32_encode(raw);
  };
  std::string account_seed = std::string{static_cast<char>(18 << 3), 0} + std::string(32, 'k');
  EXPECT_NE(message(encode(account_seed)).find("not a user's"), std::string::npos);
  std::string not_seed = std::string{static_cast<char>(20 << 3), 0} + std::string(32, 'k');
  EXPECT_NE(message(encode(not_seed)).find("not a seed"), std::string::npos);
  EXPECT_EQ(message(seed).find("SUAKY"), std::string::npos);  // never echoes the secret
}

TEST(NKey, Crc16IsXmodem) {
  EXPECT_EQ(nkey_crc16("123456789"), 0x31C3);  // the CRC-16/XMODEM check value
}

}  // namespace
}  // namespace uni::nats
