// The worker's walls on NATS (the worker side is shared with the built-in
// manager's): a worker that trusts one signing key runs a module signed by
// it (the signature travels in the module object's headers) and refuses an
// unsigned one, naming it; tasks do not see the UNI_NATS_* settings or other
// credentials of their worker's environment.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "common/files.hpp"
#include "common/hash.hpp"
#include "common/signing.hpp"
#include "nats_test_util.hpp"
#include "uni_on_nats.hpp"

namespace uni::test {
namespace {

std::string copy_to(const TempDir& dir, const std::string& module) {
  std::filesystem::path to = dir / std::filesystem::path(module).filename().string();
  std::filesystem::copy_file(module, to, std::filesystem::copy_options::overwrite_existing);
  return to.string();
}

TEST(SandboxOnNats, ATrustingWorkerRunsSignedModulesAndRefusesOthers) {
  NatsCluster nats;
  UniOnNats uni(nats.address());
  auto [secret, pub] = write_signing_key_pair((uni.dir() / "ci").string());
  SigningSecretKey key = read_signing_secret_key(secret);
  const std::string signed_module = copy_to(uni.dir(), module_path("testfns"));
  ModuleHash hash = ModuleHash::of(read_file(signed_module));
  write_file_atomic(signed_module + ".sig", signature_line(hash, sign_module(hash, key), key.name),
                    0644);
  ChildProcess worker = uni.worker(1, "trusting-worker", {"--trust", pub});

  UniOnNats::Outcome ok = uni.cli({"run", signed_module, "add", "2", "3"});
  EXPECT_EQ(ok.status.code, 0) << ok.err;
  EXPECT_EQ(ok.out, "5\n");

  const std::string unsigned_module = module_path("factorial");
  UniOnNats::Outcome refused = uni.cli({"run", unsigned_module, "factorial", "5"});
  EXPECT_EQ(refused.status.code, 1) << refused.out;
  const std::string short_hash = ModuleHash::of(read_file(unsigned_module)).hex().substr(0, 12);
  EXPECT_NE(refused.err.find("module " + short_hash +
                             " is refused by this worker: it carries no signature"),
            std::string::npos)
      << refused.err;
}

TEST(SandboxOnNats, TasksDoNotSeeTheWorkersNatsSettingsOrCredentials) {
  NatsCluster nats;
  UniOnNats uni(nats.address(), {"UNI_NATS_ACK_WAIT_MS=30000", "DEPLOY_API_TOKEN=hunter2"});
  ChildProcess worker = uni.worker(1);
  for (const char* name : {"UNI_NATS_ACK_WAIT_MS", "DEPLOY_API_TOKEN"}) {
    UniOnNats::Outcome r =
        uni.cli({"run", module_path("hostile"), "env_var", std::string("\"") + name + "\""});
    EXPECT_EQ(r.status.code, 0) << r.err;
    EXPECT_EQ(r.out, "\"<unset>\"\n") << name;
  }
}

}  // namespace
}  // namespace uni::test
