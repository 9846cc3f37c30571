// Key files (docs/security.md §3): `uni keygen` writes a secret others cannot
// read and never overwrites a key; a secret others may read is refused, as
// ssh refuses such a private key, and so is a clients file others may
// write; SIGHUP makes the manager read its clients file again — a removed
// key is refused from then on (its worker dropped), an added one admitted,
// and a broken file keeps the keys admitted so far.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "forged_messages.hpp"
#include "security_support.hpp"

namespace uni::test {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

TEST(KeyFiles, KeygenWritesAPrivateSecretAndAPubLineAndNeverOverwrites) {
  TestCluster cluster({.workers = 0, .keys = {{"alice", "boss"}}});
  struct stat st {};
  ASSERT_EQ(::stat(cluster.key_file("alice").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  std::ifstream pub(cluster.dir() / "keys" / "alice.pub");
  std::string role, key, name;
  pub >> role >> key >> name;
  EXPECT_EQ(role, "boss");
  EXPECT_EQ(key.size(), 40u);
  EXPECT_EQ(name, "alice");
  CommandResult again =
      cluster.run({uni_binary(), "keygen", "--role", "admin", "--out",
                   (cluster.dir() / "keys" / "alice").string(), "--authkey", cluster.authkey()},
                  {.cluster_env = false});
  EXPECT_EQ(again.exit_code, 2) << again.describe();
  EXPECT_TRUE(contains(again.err, "exists: remove it first")) << again.describe();
  std::ifstream same(cluster.dir() / "keys" / "alice.pub");
  std::string role_after;
  same >> role_after;
  EXPECT_EQ(role_after, "boss");
}

TEST(KeyFiles, ASecretOthersMayReadIsRefusedAsSshDoes) {
  TestCluster cluster({.workers = 0, .keys = {{"alice", "boss"}, {"w1", "worker"}}});
  for (const char* key : {"alice", "w1"}) ::chmod(cluster.key_file(key).c_str(), 0640);
  const std::string refused = "may be read by others than its owner (mode 0640): run chmod 0600";
  CommandResult status = cluster.uni({"status"}, as(cluster, "alice"));
  EXPECT_EQ(status.exit_code, 2) << status.describe();
  EXPECT_TRUE(contains(status.err, refused)) << status.describe();
  CommandResult worker = cluster.run({uni_binary(), "worker", "--connect", cluster.address(),
                                      "--key", cluster.key_file("w1").string()},
                                     {.timeout = 20s});
  EXPECT_EQ(worker.exit_code, 2) << worker.describe();
  EXPECT_TRUE(contains(worker.err, refused)) << worker.describe();
  ConnectOptions options;
  options.key_file = cluster.key_file("alice").string();
  try {
    cluster.connect(options);
    ADD_FAILURE() << "connected with a key file others may read";
  } catch (const ConnectError& e) {
    ADD_FAILURE() << "a ConnectError for a local problem: " << e.what();
  } catch (const Error& e) {
    EXPECT_TRUE(contains(e.what(), refused)) << e.what();
  }
}

TEST(KeyFiles, AClientsFileOthersMayWriteIsRefused) {
  TestCluster cluster({.workers = 0, .keys = {{"alice", "boss"}}});
  ::chmod(cluster.clients_file().c_str(), 0664);
  CommandResult r =
      cluster.run({uni_binary(), "manager", "--listen", "tcp://127.0.0.1:0", "--authkey",
                   cluster.authkey(), "--clients", cluster.clients_file().string()},
                  {.timeout = 20s, .cluster_env = false});
  EXPECT_EQ(r.exit_code, 2) << r.describe();
  EXPECT_TRUE(contains(r.err, "may be written by others than its owner (mode 0664)"))
      << r.describe();
}

TEST(KeyFiles, SighupReadsTheClientsFileAgain) {
  TestCluster cluster(
      {.workers = 0, .keys = {{"alice", "boss"}, {"bob", "boss"}, {"w1", "worker"}}});
  ChildProcess& w1 = cluster.add_worker(1, {"--key", cluster.key_file("w1").string()});
  CommandResult before = cluster.uni({"status"}, as(cluster, "bob"));
  ASSERT_EQ(before.exit_code, 0) << before.describe();

  // A broken file keeps the keys admitted so far.
  std::string good;
  {
    std::ifstream in(cluster.clients_file());
    good.assign(std::istreambuf_iterator<char>(in), {});
  }
  std::ofstream(cluster.clients_file()) << good << "boss not-a-key carol\n";
  cluster.manager().signal(SIGHUP);
  ASSERT_TRUE(cluster.manager().wait_for_stderr("keeping the clients admitted so far", 10s))
      << cluster.manager().read_stderr();
  EXPECT_EQ(cluster.uni({"status"}, as(cluster, "bob")).exit_code, 0);

  // bob and w1 removed, carol added.
  CommandResult carol =
      cluster.run({uni_binary(), "keygen", "--role", "boss", "--out",
                   (cluster.dir() / "keys" / "carol").string(), "--authkey", cluster.authkey()},
                  {.cluster_env = false});
  ASSERT_EQ(carol.exit_code, 0) << carol.describe();
  std::string lines;
  std::istringstream in(good);
  for (std::string line; std::getline(in, line);)
    if (!line.ends_with(" bob") && !line.ends_with(" w1")) lines += line + "\n";
  std::ofstream(cluster.clients_file()) << lines << carol.out;
  cluster.manager().signal(SIGHUP);
  ASSERT_TRUE(cluster.manager().wait_for_stderr("4 key(s) admitted", 10s))
      << cluster.manager().read_stderr();

  CommandResult bob = cluster.uni({"status"}, as(cluster, "bob"));
  EXPECT_EQ(bob.exit_code, 3) << bob.describe();
  EXPECT_TRUE(contains(bob.err, "authentication failed")) << bob.describe();
  // w1's worker is dropped and cannot come back.
  EXPECT_TRUE(cluster.wait_for_worker_count(0));
  EXPECT_TRUE(w1.wait_for_stderr("refused", 10s)) << w1.read_stderr();
  // carol runs a task on a worker that is admitted.
  cluster.add_worker(1);
  CommandResult run =
      cluster.uni({"run", module_path("testfns"), "add", "20", "22"}, as(cluster, "carol"));
  EXPECT_EQ(run.exit_code, 0) << run.describe();
  EXPECT_EQ(run.out, "42\n") << run.describe();
}

}  // namespace
}  // namespace uni::test
