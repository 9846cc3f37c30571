// Proves src/common/key_files.hpp and identity.hpp: a key written by
// generate/write reads back the same, its secret 0600 and never overwritten;
// a secret others may read, or a clients file others may write, is refused
// with the chmod that fixes it; clients files are read line by line with
// errors that name the line; sessions carry their key's owner tag.
#include <gtest/gtest.h>
#include <sodium.h>
#include <sys/stat.h>
#include <zmq.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "common/identity.hpp"
#include "common/key_files.hpp"

namespace uni {
namespace {

namespace fs = std::filesystem;

class KeyFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_GE(sodium_init(), 0);
    char pattern[] = "/tmp/uni-key-files-test-XXXXXX";
    root_ = ::mkdtemp(pattern);
  }
  void TearDown() override { fs::remove_all(root_); }

  std::string write(const std::string& name, const std::string& text, mode_t mode = 0644) {
    std::string path = root_ + "/" + name;
    std::ofstream(path) << text;
    ::chmod(path.c_str(), mode);
    return path;
  }
  static std::string raw(char c) { return std::string(32, c); }
  std::string root_;
};

TEST_F(KeyFilesTest, AWrittenKeyReadsBackTheSameAndItsSecretIsPrivate) {
  ClientKey key = generate_client_key("alice", Role::kBoss, raw('m'));
  write_client_key(root_ + "/keys/alice", key);
  struct stat st {};
  ASSERT_EQ(::stat((root_ + "/keys/alice.secret").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ClientKey back = read_client_key(root_ + "/keys/alice.secret");
  EXPECT_EQ(back.name, "alice");
  EXPECT_EQ(back.role, Role::kBoss);
  EXPECT_EQ(back.public_key, key.public_key);
  EXPECT_EQ(back.secret_key, key.secret_key);
  EXPECT_EQ(back.manager_key, raw('m'));
  std::ifstream pub(root_ + "/keys/alice.pub");
  std::string line;
  std::getline(pub, line);
  EXPECT_EQ(line, public_line(key));
  EXPECT_EQ(line, "boss " + z85_encode(key.public_key) + " alice");
  EXPECT_THROW(write_client_key(root_ + "/keys/alice", key), KeyFileError);
  EXPECT_THROW(generate_client_key("no spaces", Role::kBoss, raw('m')), KeyFileError);
}

TEST_F(KeyFilesTest, ASecretOthersMayReadIsRefusedWithTheFix) {
  write_client_key(root_ + "/k", generate_client_key("k", Role::kWorker, raw('m')));
  ::chmod((root_ + "/k.secret").c_str(), 0604);
  try {
    read_client_key(root_ + "/k.secret");
    FAIL() << "read a key file others may read";
  } catch (const KeyFileError& e) {
    EXPECT_NE(std::string(e.what()).find("may be read by others than its owner (mode 0604): run "
                                         "chmod 0600 " +
                                         root_ + "/k.secret"),
              std::string::npos)
        << e.what();
  }
}

TEST_F(KeyFilesTest, AKeyFileWhosePartsDoNotBelongTogetherIsRefused) {
  ClientKey a = generate_client_key("a", Role::kBoss, raw('m'));
  ClientKey b = generate_client_key("b", Role::kBoss, raw('m'));
  std::string text = "name a\nrole boss\npublic " + z85_encode(a.public_key) + "\nsecret " +
                     z85_encode(b.secret_key) + "\nmanager " + z85_encode(raw('m')) + "\n";
  EXPECT_THROW(read_client_key(write("mixed.secret", text, 0600)), KeyFileError);
  EXPECT_THROW(read_client_key(write("junk.secret", "hello\n", 0600)), KeyFileError);
}

TEST_F(KeyFilesTest, AClientsFileIsReadLineByLineAndItsErrorsNameTheLine) {
  ClientKey w = generate_client_key("w1", Role::kWorker, raw('m'));
  ClientKey b = generate_client_key("alice", Role::kBoss, raw('m'));
  std::string good = "# a comment\n\n" + public_line(w) + "\n  " + public_line(b) + "  \n";
  std::vector<Identity> ids = read_clients_file(write("clients", good));
  ASSERT_EQ(ids.size(), 2u);
  EXPECT_EQ(ids[0].name, "w1");
  EXPECT_EQ(ids[0].role, Role::kWorker);
  EXPECT_EQ(ids[0].public_key, w.public_key);
  EXPECT_EQ(ids[0].owner_tag, owner_tag(w.public_key));
  EXPECT_FALSE(ids[0].shared);
  auto error_of = [&](const std::string& text, mode_t mode = 0644) {
    try {
      read_clients_file(write("bad", text, mode));
    } catch (const KeyFileError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(error_of(good + "root " + z85_encode(raw('x')) + " eve\n").find("line 5: unknown role"),
            std::string::npos);
  EXPECT_NE(error_of("boss short eve\n").find("line 1: 'short' is not a Z85 public key"),
            std::string::npos);
  EXPECT_NE(error_of(good + "admin " + z85_encode(w.public_key) + " again\n")
                .find("the key of 'again' is listed already, as 'w1'"),
            std::string::npos);
  EXPECT_NE(error_of(good, 0664).find("may be written by others than its owner"),
            std::string::npos);
  // Two keys whose first four bytes agree could not be told apart by their
  // sessions: refused, with what to do.
  std::string twin = w.public_key;
  twin[31] ^= 1;
  EXPECT_NE(error_of(good + "boss " + z85_encode(twin) + " twin\n").find("generate one of them"),
            std::string::npos);
}

TEST(Identity, SessionsOfAKeyBeginWithItsOwnerTag) {
  ASSERT_GE(sodium_init(), 0);
  const std::string key = std::string("\x12\x34\x56\x78", 4) + std::string(28, 'k');
  EXPECT_EQ(owner_tag(key), 0x12345678u);
  for (int i = 0; i < 8; ++i) EXPECT_EQ(new_session(owner_tag(key)) >> 32, 0x12345678u);
  EXPECT_NE(new_session(std::nullopt), new_session(std::nullopt));
  EXPECT_EQ(role_from_name("observer"), Role::kObserver);
  EXPECT_FALSE(role_from_name("root"));
}

TEST(Z85, RoundTripsAndRefusesWhatIsNotAKey) {
  std::string bytes;
  for (int i = 0; i < 32; ++i) bytes += static_cast<char>(i * 7);
  std::string text = z85_encode(bytes);
  EXPECT_EQ(text.size(), 40u);
  EXPECT_EQ(z85_decode(text), bytes);
  EXPECT_FALSE(z85_decode(text.substr(1)));
  EXPECT_FALSE(z85_decode(std::string(39, '0') + " "));
  // Five digits over 2^32 - 1 are no four bytes.
  EXPECT_FALSE(z85_decode(std::string(35, '0') + "#####"));
}

TEST(Z85, IsZeroMQsZ85) {
  // The test vector of ZeroMQ RFC 32, four times over.
  const std::string hello("\x86\x4F\xD2\x6F\xB5\x59\xF7\x5B", 8);
  EXPECT_EQ(z85_encode(hello + hello + hello + hello), "HelloWorldHelloWorldHelloWorldHelloWorld");
  // And libzmq's own encoding and decoding of random keys, which CURVE uses.
  for (int i = 0; i < 64; ++i) {
    std::string raw(32, '\0');
    randombytes_buf(raw.data(), raw.size());
    char theirs[41];
    ASSERT_TRUE(zmq_z85_encode(theirs, reinterpret_cast<const std::uint8_t*>(raw.data()), 32));
    EXPECT_EQ(z85_encode(raw), std::string(theirs, 40));
    EXPECT_EQ(z85_decode(theirs), raw);
  }
}

}  // namespace
}  // namespace uni
