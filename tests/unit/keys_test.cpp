// Proves src/common/keys.hpp: CURVE keys derived from an authkey are deterministic, distinct per
// authkey, valid curve25519 pairs, cached with mode 0600; authkey lookup follows its precedence.
#include <gtest/gtest.h>
#include <sodium.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>

#include "common/files.hpp"
#include "common/keys.hpp"

namespace {

namespace fs = std::filesystem;
using uni::CurveKeys;

// A temporary config directory and the environment variables the key code reads, restored
// afterwards.
class KeysTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* name : {"UNI_CONFIG_DIR", "XDG_CONFIG_HOME", "HOME", "UNI_AUTHKEY"}) {
      const char* value = std::getenv(name);
      saved_[name] = value ? std::optional<std::string>(value) : std::nullopt;
    }
    char pattern[] = "/tmp/uni-keys-test-XXXXXX";
    root_ = ::mkdtemp(pattern);
    ASSERT_FALSE(root_.empty());
    dir_ = root_ + "/config";
    ::setenv("UNI_CONFIG_DIR", dir_.c_str(), 1);
    ::unsetenv("UNI_AUTHKEY");
    ASSERT_EQ(sodium_init() < 0, false);
  }
  void TearDown() override {
    for (const auto& [name, value] : saved_) {
      if (value) ::setenv(name.c_str(), value->c_str(), 1);
      else ::unsetenv(name.c_str());
    }
    fs::remove_all(root_);
  }

  std::string write(const std::string& name, const std::string& content) {
    std::string path = root_ + "/" + name;
    std::ofstream(path, std::ios::binary) << content;
    return path;
  }

  static mode_t mode_of(const std::string& path) {
    struct stat st {};
    EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
    return st.st_mode & 07777;
  }

  static void expect_valid_pair(const std::string& public_key, const std::string& secret_key) {
    ASSERT_EQ(public_key.size(), crypto_scalarmult_BYTES);
    ASSERT_EQ(secret_key.size(), crypto_scalarmult_SCALARBYTES);
    unsigned char derived[crypto_scalarmult_BYTES];
    ASSERT_EQ(
        crypto_scalarmult_base(derived, reinterpret_cast<const unsigned char*>(secret_key.data())),
        0);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(derived), sizeof(derived)), public_key)
        << "the public key is not the secret key's curve25519 public key";
  }

  static std::string blob(const CurveKeys& k) {
    return k.server_public + k.server_secret + k.client_public + k.client_secret;
  }

  std::string root_, dir_;
  std::map<std::string, std::optional<std::string>> saved_;
};

TEST_F(KeysTest, ConfigDirPrecedence) {
  EXPECT_EQ(uni::config_dir(), dir_);
  EXPECT_EQ(uni::default_authkey_path(), dir_ + "/authkey");
  ::unsetenv("UNI_CONFIG_DIR");
  ::setenv("XDG_CONFIG_HOME", "/xdg", 1);
  ::setenv("HOME", "/home/someone", 1);
  EXPECT_EQ(uni::config_dir(), "/xdg/uni");
  ::unsetenv("XDG_CONFIG_HOME");
  EXPECT_EQ(uni::config_dir(), "/home/someone/.config/uni");
  ::unsetenv("HOME");
  EXPECT_THROW(uni::config_dir(), std::runtime_error);
}

TEST_F(KeysTest, DerivationIsDeterministicDistinctValidAndCached) {
  const mode_t old_umask = ::umask(0);  // the modes must not depend on the umask
  CurveKeys first = uni::derive_curve_keys("correct horse battery staple");
  ::umask(old_umask);

  expect_valid_pair(first.server_public, first.server_secret);
  expect_valid_pair(first.client_public, first.client_secret);
  EXPECT_NE(first.server_public, first.client_public);
  EXPECT_NE(first.server_secret, first.client_secret);

  // The cache: one file under UNI_CONFIG_DIR/derived, mode 0600, in a 0700 directory.
  std::vector<fs::path> cached;
  for (const auto& entry : fs::directory_iterator(dir_ + "/derived"))
    cached.push_back(entry.path());
  ASSERT_EQ(cached.size(), 1u);
  EXPECT_EQ(mode_of(cached[0]), 0600u) << cached[0];
  EXPECT_EQ(mode_of(dir_ + "/derived"), 0700u);
  EXPECT_EQ(mode_of(dir_), 0700u);
  EXPECT_EQ(uni::read_file(cached[0]), blob(first));
  EXPECT_EQ(cached[0].string().find("correct"), std::string::npos)
      << "the cache file name must not reveal the authkey";

  // A second call is served from the cache: it returns what the cache file holds.
  EXPECT_EQ(blob(uni::derive_curve_keys("correct horse battery staple")), blob(first));
  std::string marker(128, 'm');
  uni::write_file_atomic(cached[0].string(), marker, 0600);
  EXPECT_EQ(blob(uni::derive_curve_keys("correct horse battery staple")), marker);

  // Deterministic: a fresh config directory derives the same keys from scratch.
  ::setenv("UNI_CONFIG_DIR", (root_ + "/other").c_str(), 1);
  CurveKeys fresh = uni::derive_curve_keys("correct horse battery staple");
  EXPECT_EQ(blob(fresh), blob(first));

  // Another authkey gives other keys, and its own cache file.
  CurveKeys other = uni::derive_curve_keys("correct horse battery stapler");
  EXPECT_NE(other.server_public, first.server_public);
  EXPECT_NE(other.server_secret, first.server_secret);
  EXPECT_NE(other.client_public, first.client_public);
  EXPECT_NE(other.client_secret, first.client_secret);
  expect_valid_pair(other.server_public, other.server_secret);
  expect_valid_pair(other.client_public, other.client_secret);
  std::size_t files = 0;
  for ([[maybe_unused]] const auto& entry : fs::directory_iterator(root_ + "/other/derived"))
    ++files;
  EXPECT_EQ(files, 2u);
}

TEST_F(KeysTest, MalformedCacheIsIgnoredAndRewritten) {
  // Derive once (which writes the cache), then break the cache file.
  CurveKeys reference = uni::derive_curve_keys("k");
  fs::path cache;
  for (const auto& entry : fs::directory_iterator(dir_ + "/derived")) cache = entry.path();
  ASSERT_FALSE(cache.empty());
  std::ofstream(cache, std::ios::binary | std::ios::trunc) << "short";
  CurveKeys rederived = uni::derive_curve_keys("k");
  EXPECT_EQ(blob(rederived), blob(reference));
  EXPECT_EQ(uni::read_file(cache), blob(reference));
  EXPECT_EQ(mode_of(cache), 0600u);
}

TEST_F(KeysTest, FindAuthkeyPrecedence) {
  // Nothing anywhere.
  EXPECT_EQ(uni::find_authkey("", ""), std::nullopt);

  // Default file only.
  fs::create_directories(dir_);
  std::ofstream(dir_ + "/authkey") << "from-default-file\n";
  EXPECT_EQ(uni::find_authkey("", ""), "from-default-file");

  // UNI_AUTHKEY beats the default file.
  ::setenv("UNI_AUTHKEY", "from-env", 1);
  EXPECT_EQ(uni::find_authkey("", ""), "from-env");

  // A named file beats the environment; its trailing newline is dropped.
  std::string file = write("keyfile", "from-file\r\n");
  EXPECT_EQ(uni::find_authkey("", file), "from-file");

  // The flag beats everything, and a named file is then not even read.
  EXPECT_EQ(uni::find_authkey("from-flag", file), "from-flag");
  EXPECT_EQ(uni::find_authkey("from-flag", root_ + "/missing"), "from-flag");
}

TEST_F(KeysTest, FindAuthkeyKeepsInnerWhitespace) {
  std::string file = write("keyfile", "  two words \n\n");
  EXPECT_EQ(uni::find_authkey("", file), "  two words ");
}

TEST_F(KeysTest, FindAuthkeyErrors) {
  try {
    uni::find_authkey("", root_ + "/missing");
    FAIL() << "no error for a missing key file";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(root_ + "/missing"), std::string::npos) << e.what();
  }
  std::string empty = write("empty", "\n");
  try {
    uni::find_authkey("", empty);
    FAIL() << "no error for an empty key file";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("empty"), std::string::npos) << e.what();
  }
  // An empty default file is an error too, not a silent fallback to no key.
  fs::create_directories(dir_);
  std::ofstream(dir_ + "/authkey") << "";
  EXPECT_THROW(uni::find_authkey("", ""), std::runtime_error);
}

TEST_F(KeysTest, CreateDefaultAuthkey) {
  const mode_t old_umask = ::umask(0);
  std::string key = uni::create_default_authkey();
  ::umask(old_umask);
  EXPECT_EQ(key.size(), 64u);
  EXPECT_EQ(key.find_first_not_of("0123456789abcdef"), std::string::npos) << key;
  std::string path = uni::default_authkey_path();
  EXPECT_EQ(mode_of(path), 0600u);
  EXPECT_EQ(mode_of(dir_), 0700u);
  EXPECT_EQ(uni::read_file(path), key + "\n");
  EXPECT_EQ(uni::find_authkey("", ""), key);
  // Each call makes a new random key.
  EXPECT_NE(uni::create_default_authkey(), key);
}

}  // namespace
