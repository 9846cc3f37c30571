// Code provenance (docs/security.md §7): `uni sign --new-key` and `uni sign`,
// workers that run only modules signed by a key they trust (--trust) or
// listed by hash (--allow-modules). Anything else is refused before it is
// stored or loaded: the task fails with an error naming the module and why,
// and the worker serves on.
#include <sys/stat.h>

#include "common/hash.hpp"
#include "security_support.hpp"

namespace uni::test {
namespace {

std::string short_hash(const std::string& module) {
  return ModuleHash::of(read_text(module)).hex().substr(0, 12);
}

// A copy of a module in `dir` (its .sig is written beside it).
std::string copy_module(const TestCluster& cluster, const std::string& name) {
  std::filesystem::path to = cluster.dir() / ("lib" + name + ".so");
  std::filesystem::copy_file(module_path(name), to,
                             std::filesystem::copy_options::overwrite_existing);
  return to.string();
}

TEST(Provenance, KeysAreMadePrivateAndAKeyOthersCanReadIsRefused) {
  TestCluster cluster({.workers = 0});
  const std::string stem = (cluster.dir() / "ci").string();
  CommandResult made = cluster.uni({"sign", "--new-key", stem});
  ASSERT_EQ(made.exit_code, 0) << made.describe();
  struct stat st {};
  ASSERT_EQ(::stat((stem + ".signing").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_TRUE(contains(read_text(stem + ".signing.pub"), "uni-signing-key-v1 "));
  // A key is never overwritten.
  EXPECT_EQ(cluster.uni({"sign", "--new-key", stem}).exit_code, 2);

  const std::string module = copy_module(cluster, "testfns");
  ::chmod((stem + ".signing").c_str(), 0644);
  CommandResult refused = cluster.uni({"sign", module, "--key", stem + ".signing"});
  EXPECT_EQ(refused.exit_code, 2) << refused.describe();
  EXPECT_TRUE(contains(refused.err, "is accessible by others (mode 0644)")) << refused.describe();
  EXPECT_FALSE(std::filesystem::exists(module + ".sig"));

  ::chmod((stem + ".signing").c_str(), 0600);
  CommandResult signed_ = cluster.uni({"sign", module, "--key", stem + ".signing"});
  EXPECT_EQ(signed_.exit_code, 0) << signed_.describe();
  EXPECT_TRUE(contains(read_text(module + ".sig"), short_hash(module)));
}

TEST(Provenance, AWorkerThatTrustsAKeyRunsOnlyWhatItSigned) {
  TestCluster cluster({.workers = 0});
  const std::string ci = (cluster.dir() / "ci").string(),
                    other = (cluster.dir() / "other").string();
  ASSERT_EQ(cluster.uni({"sign", "--new-key", ci}).exit_code, 0);
  ASSERT_EQ(cluster.uni({"sign", "--new-key", other}).exit_code, 0);
  cluster.add_worker(1, {"--trust", ci + ".signing.pub"});

  // Unsigned: refused, named, and why.
  const std::string unsigned_module = module_path("factorial");
  CommandResult r = cluster.uni({"run", unsigned_module, "factorial", "5"});
  EXPECT_EQ(r.exit_code, 1) << r.describe();
  EXPECT_TRUE(contains(r.err, "module " + short_hash(unsigned_module) +
                                  " is refused by this worker: it carries no signature"))
      << r.describe();

  // Signed by a key it does not trust: refused.
  const std::string by_other = copy_module(cluster, "hostile");
  ASSERT_EQ(cluster.uni({"sign", by_other, "--key", other + ".signing"}).exit_code, 0);
  r = cluster.uni({"run", by_other, "dumpable"});
  EXPECT_EQ(r.exit_code, 1) << r.describe();
  EXPECT_TRUE(contains(r.err, "is signed only by keys this worker does not trust")) << r.describe();

  // Signed by the trusted key: it runs.
  const std::string good = copy_module(cluster, "testfns");
  ASSERT_EQ(cluster.uni({"sign", good, "--key", ci + ".signing"}).exit_code, 0);
  r = cluster.uni({"run", good, "add", "2", "3"});
  EXPECT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_EQ(r.out, "5\n") << r.describe();
}

TEST(Provenance, AWorkerWithAnAllowListRunsOnlyTheModulesItLists) {
  TestCluster cluster({.workers = 0});
  const std::filesystem::path list = cluster.dir() / "allowed";
  write_text(list, "# modules this worker runs\n" +
                       ModuleHash::of(read_text(module_path("testfns"))).hex() + " testfns\n");
  cluster.add_worker(1, {"--allow-modules", list.string()});
  CommandResult r = cluster.uni({"run", module_path("testfns"), "add", "2", "3"});
  EXPECT_EQ(r.exit_code, 0) << r.describe();
  r = cluster.uni({"run", module_path("factorial"), "factorial", "5"});
  EXPECT_EQ(r.exit_code, 1) << r.describe();
  EXPECT_TRUE(contains(r.err, "module " + short_hash(module_path("factorial")) +
                                  " is refused by this worker: it is not in --allow-modules"))
      << r.describe();
  r = cluster.uni({"run", module_path("testfns"), "add", "4", "5"});
  EXPECT_EQ(r.out, "9\n") << r.describe();
}

TEST(Provenance, AMalformedTrustFileStopsTheWorkerWithTheLineNamed) {
  TestCluster cluster({.workers = 0});
  const std::filesystem::path bad = cluster.dir() / "trusted";
  write_text(bad, "uni-signing-key-v1 nothex ci\n");
  CommandResult r = cluster.uni({"worker", "--connect", cluster.address(), "--trust", bad.string()},
                                {.timeout = std::chrono::seconds(20)});
  EXPECT_EQ(r.exit_code, 2) << r.describe();
  EXPECT_TRUE(contains(r.err, bad.string() + ":1: not a signing public key")) << r.describe();
}

}  // namespace
}  // namespace uni::test
