// Roles (docs/security.md §1): with `uni manager --clients`, each key does
// what its role allows and is refused the rest, clearly: the CLI exits 3 and
// says which key, which role, and what it may not do. A worker key takes
// tasks and nothing else; an observer reads the status; a boss submits and
// acts on its own; an admin does everything.
#include <gtest/gtest.h>

#include "forged_messages.hpp"
#include "security_support.hpp"

namespace uni::test {
namespace {

using namespace std::chrono_literals;

class Roles : public ::testing::Test {
 protected:
  TestCluster cluster{
      {.workers = 1, .keys = {{"w1", "worker"}, {"ops", "observer"}, {"alice", "boss"}}}};
};

TEST_F(Roles, AWorkerKeyMayNotSubmitReadTheStatusStopOrFetch) {
  const std::string w1 = "refused: key 'w1' has role worker, which may not ";
  expect_refused(cluster.uni({"run", module_path("testfns"), "add", "1", "2"}, as(cluster, "w1")),
                 w1 + "submit");
  expect_refused(
      cluster.uni({"submit", module_path("testfns"), "add", "1", "2"}, as(cluster, "w1")),
      w1 + "submit");
  expect_refused(cluster.uni({"map", module_path("testfns"), "add"},
                             {.stdin_text = "[1, 2]\n[3, 4]\n",
                              .env = {"UNI_KEY=" + cluster.key_file("w1").string()}}),
                 w1 + "submit");
  expect_refused(cluster.uni({"status"}, as(cluster, "w1")), w1 + "read the status");
  expect_refused(cluster.uni({"stop", "0000000000000001-1"}, as(cluster, "w1")),
                 w1 + "cancel or stop tasks");
  expect_refused(cluster.uni({"result", "0000000000000001-1"}, as(cluster, "w1")),
                 w1 + "fetch results");
}

TEST_F(Roles, AnObserverReadsTheStatusAndNothingElse) {
  CommandResult status = cluster.uni({"status", "--json"}, as(cluster, "ops"));
  EXPECT_EQ(status.exit_code, 0) << status.describe();
  EXPECT_TRUE(contains(status.out, "\"workers\"")) << status.describe();
  const std::string ops = "refused: key 'ops' has role observer, which may not ";
  expect_refused(cluster.uni({"run", module_path("testfns"), "add", "1", "2"}, as(cluster, "ops")),
                 ops + "submit");
  expect_refused(
      cluster.uni({"spawn", module_path("testfns"), "sleep_ms", "1000"}, as(cluster, "ops")),
      ops + "submit");
  expect_refused(cluster.uni({"become", "0000000000000001-1", module_path("testfns"), "add"},
                             as(cluster, "ops")),
                 ops + "change a service's code (become)");
}

TEST_F(Roles, OnlyWorkerAndAdminKeysServeAsWorkers) {
  for (const std::string key : {"alice", "ops"}) {
    CommandResult r = cluster.run({uni_binary(), "worker", "--connect", cluster.address(), "--key",
                                   cluster.key_file(key).string()},
                                  {.timeout = 20s});
    expect_refused(r, "refused: key '" + key + "' has role");
    EXPECT_TRUE(contains(r.err, "which may not serve as a worker")) << r.describe();
  }
  // The worker key's worker runs a boss's task.
  cluster.add_worker(1, {"--key", cluster.key_file("w1").string()});
  EXPECT_TRUE(cluster.wait_for_worker_count(2));
  CommandResult r =
      cluster.uni({"run", module_path("testfns"), "add", "20", "22"}, as(cluster, "alice"));
  EXPECT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_EQ(r.out, "42\n") << r.describe();
}

TEST_F(Roles, TheManagerRefusesARawWorkerRoleMessageItsRoleMayNotSend) {
  // What the CLI never sends, a raw peer may: a CANCEL from a worker key.
  RawPeer peer(cluster, RawPeer::key_file_keys(cluster, "w1"));
  ASSERT_TRUE(peer.send(boss_hello(session_of_key(cluster, "w1"))));
  std::optional<proto::Message> welcome = peer.receive(10s);
  ASSERT_TRUE(welcome);
  ASSERT_EQ(welcome->type(), proto::Type::kWelcome) << proto::type_name(welcome->type());
  ASSERT_TRUE(peer.send(proto::encode_cancel({{0x1234, 1}})));
  std::optional<proto::Message> reply = peer.receive(10s);
  ASSERT_TRUE(reply);
  ASSERT_EQ(reply->type(), proto::Type::kError) << proto::type_name(reply->type());
  EXPECT_EQ(reply->error().code, "refused");
  EXPECT_EQ(reply->refusal().type, proto::Type::kCancel);
  EXPECT_TRUE(cluster.manager().running());
}

}  // namespace
}  // namespace uni::test
