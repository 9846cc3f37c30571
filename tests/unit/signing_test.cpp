// Proves src/common/signing.hpp and src/worker/module_policy.hpp: key files
// are made private and refused when others can read them; a signature
// verifies for its module only; the .sig file round-trips; a worker's policy
// approves a module allow-listed or signed by a trusted key, and says why not
// otherwise.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "common/files.hpp"
#include "common/signing.hpp"
#include "worker/module_policy.hpp"
#include "worker/sandbox.hpp"

namespace {

using uni::ModuleHash;

struct TempDir {
  std::string path;
  TempDir() {
    char pattern[] = "/tmp/uni-signing.XXXXXX";
    path = ::mkdtemp(pattern);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(Signing, KeysAreMadeOnceAndPrivately) {
  TempDir dir;
  auto [secret, pub] = uni::write_signing_key_pair(dir.path + "/ci");
  struct stat st {};
  ASSERT_EQ(::stat(secret.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_THROW(uni::write_signing_key_pair(dir.path + "/ci"), std::runtime_error);
  uni::SigningSecretKey key = uni::read_signing_secret_key(secret);
  EXPECT_EQ(key.name, "ci");
  std::vector<uni::SigningPublicKey> keys = uni::read_signing_public_keys(pub);
  ASSERT_EQ(keys.size(), 1u);
  EXPECT_EQ(keys[0].bytes, key.public_key().bytes);
  ::chmod(secret.c_str(), 0640);
  try {
    uni::read_signing_secret_key(secret);
    ADD_FAILURE() << "a key others can read was accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_TRUE(has(e.what(), "is accessible by others (mode 0640)")) << e.what();
  }
}

TEST(Signing, ASignatureVerifiesForItsModuleOnlyAndRoundTripsThroughASigFile) {
  TempDir dir;
  auto [secret, pub] = uni::write_signing_key_pair(dir.path + "/ci");
  uni::SigningSecretKey key = uni::read_signing_secret_key(secret);
  ModuleHash module = ModuleHash::of("module bytes"), other = ModuleHash::of("other bytes");
  std::string signature = uni::sign_module(module, key);
  ASSERT_EQ(signature.size(), uni::kModuleSignatureBytes);
  EXPECT_TRUE(uni::signature_is_valid(signature, module));
  EXPECT_FALSE(uni::signature_is_valid(signature, other));
  std::string tampered = signature;
  tampered[50] ^= 1;
  EXPECT_FALSE(uni::signature_is_valid(tampered, module));
  std::string file = uni::signature_line(module, signature, "ci") +
                     uni::signature_line(other, uni::sign_module(other, key), "ci");
  EXPECT_EQ(uni::signatures_in(file, module), std::vector<std::string>{signature});
}

TEST(ModulePolicy, ApprovesAllowListedOrTrustedSignedModulesAndSaysWhyNot) {
  TempDir dir;
  auto [ci_secret, ci_pub] = uni::write_signing_key_pair(dir.path + "/ci");
  auto [other_secret, other_pub] = uni::write_signing_key_pair(dir.path + "/other");
  uni::SigningSecretKey ci = uni::read_signing_secret_key(ci_secret);
  uni::SigningSecretKey other = uni::read_signing_secret_key(other_secret);
  ModuleHash listed = ModuleHash::of("listed"), signed_ = ModuleHash::of("signed"),
             unsigned_ = ModuleHash::of("unsigned");
  uni::write_file_atomic(dir.path + "/allowed", "# ok\n" + listed.hex() + " listed\n", 0644);
  auto policy = uni::worker::ModulePolicy::from_files({ci_pub}, {dir.path + "/allowed"});
  EXPECT_TRUE(policy.restricts());
  EXPECT_TRUE(policy.approved(listed));
  EXPECT_FALSE(policy.approved(signed_));
  EXPECT_EQ(policy.approve(signed_, {uni::sign_module(signed_, ci)}), "");
  EXPECT_TRUE(policy.approved(signed_));
  EXPECT_TRUE(has(policy.approve(unsigned_, {}), "carries no signature"));
  EXPECT_TRUE(has(policy.approve(unsigned_, {uni::sign_module(unsigned_, other)}),
                  "signed only by keys this worker does not trust"));
  // ci's signature of another module does not make this one ci's.
  EXPECT_TRUE(has(policy.approve(unsigned_, {uni::sign_module(signed_, ci)}),
                  "signature by 'ci' does not verify"));
  EXPECT_FALSE(policy.approved(unsigned_));
  EXPECT_TRUE(uni::worker::ModulePolicy().approved(unsigned_));
}

TEST(SandboxEnvironment, SecretsAndCredentialsAreWithheldFromExecutors) {
  using uni::worker::is_withheld_variable;
  for (const char* name :
       {"UNI_AUTHKEY", "UNI_NATS_PASSWORD", "UNI_CONNECT", "AWS_SECRET_ACCESS_KEY", "GITHUB_TOKEN",
        "PGPASSWORD", "SSH_AUTH_SOCK", "OPENAI_API_KEY", "GOOGLE_APPLICATION_CREDENTIALS"})
    EXPECT_TRUE(is_withheld_variable(name)) << name;
  for (const char* name : {"PATH", "HOME", "LANG", "ASAN_OPTIONS", "TMPDIR", "LD_LIBRARY_PATH"})
    EXPECT_FALSE(is_withheld_variable(name)) << name;
}

}  // namespace
