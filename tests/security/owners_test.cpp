// Owners (docs/security.md §4, "a boss"): tasks, services, sessions and kept
// results belong to the key that created them; cancel, stop, become, fetch
// and session resume check it (or admin). An id printed to a user is not
// enough to act on anything without its owner's key, and a refusal tells
// nothing of whether there is such a task. A session is resumed only by the
// client that opened it, also under the shared authkey (its secret).
#include <gtest/gtest.h>

#include "forged_messages.hpp"
#include "security_support.hpp"

namespace uni::test {
namespace {

using namespace std::chrono_literals;

TEST(Owners, AnotherBossCannotStopBecomeOrFetchWhatItDoesNotOwnAnAdminCan) {
  TestCluster cluster({.workers = 1,
                       .slots = 2,
                       .keys = {{"alice", "boss"}, {"bob", "boss"}, {"ops", "observer"}}});
  CommandResult spawned =
      cluster.uni({"spawn", module_path("testfns"), "sleep_ms", "600000"}, as(cluster, "alice"));
  ASSERT_EQ(spawned.exit_code, 0) << spawned.describe();
  const std::string service = spawned.lines().at(0);
  CommandResult submitted =
      cluster.uni({"submit", module_path("testfns"), "add", "20", "22"}, as(cluster, "alice"));
  ASSERT_EQ(submitted.exit_code, 0) << submitted.describe();
  const std::string task = submitted.lines().at(0);

  const std::string not_bobs = "refused: key 'bob' (role boss) may not ";
  expect_refused(cluster.uni({"stop", service}, as(cluster, "bob")),
                 not_bobs + "cancel or stop " + service + ": it belongs to another key");
  expect_refused(
      cluster.uni({"become", service, module_path("testfns"), "sleep_ms"}, as(cluster, "bob")),
      not_bobs + "change the code of " + service);
  expect_refused(cluster.uni({"result", task, "--wait", "30"}, as(cluster, "bob")),
                 not_bobs + "fetch the result of " + task);
  // The same answer for an id of alice's that was never handed out: no
  // existence oracle.
  const std::string never = service.substr(0, service.find('-')) + "-999";
  expect_refused(cluster.uni({"stop", never}, as(cluster, "bob")),
                 not_bobs + "cancel or stop " + never + ": it belongs to another key");
  expect_refused(cluster.uni({"stop", service}, as(cluster, "ops")),
                 "refused: key 'ops' has role observer, which may not cancel or stop tasks");

  // Nothing happened to alice's service and result.
  nlohmann::json status = cluster.status();
  ASSERT_EQ(status["services"].size(), 1u) << status.dump();
  EXPECT_EQ(status["services"][0]["state"], "running") << status.dump();
  CommandResult mine = cluster.uni({"result", task, "--wait", "30"}, as(cluster, "alice"));
  EXPECT_EQ(mine.exit_code, 0) << mine.describe();
  EXPECT_EQ(mine.out, "42\n") << mine.describe();
  // An admin may stop anyone's service (the harness's key is one).
  CommandResult stopped = cluster.uni({"stop", service});
  EXPECT_EQ(stopped.exit_code, 0) << stopped.describe();
  EXPECT_TRUE(contains(stopped.out, "stopped " + service)) << stopped.describe();
}

// A boss with a slow task, and the session id its task id shows.
struct SlowBoss {
  Cluster cluster;
  Future<int> task;
  std::uint64_t session() const { return proto::TaskId::parse(task.id())->session; }
};

SlowBoss slow_boss(TestCluster& cluster) {
  Cluster boss = cluster.connect();
  Future<int> f = boss.function<int(int)>(module_path("testfns"), "sleep_ms")(1500);
  return {boss, f};
}

TEST(Owners, ASessionIsResumedOnlyByTheClientThatOpenedItEvenWithTheSharedAuthkey) {
  TestCluster cluster({.workers = 1});
  SlowBoss victim = slow_boss(cluster);
  // Another holder of the authkey says HELLO with the victim's session (its
  // id is in every task id it prints), without the victim's secret.
  RawPeer attacker(cluster, RawPeer::authkey_keys(cluster));
  ASSERT_TRUE(attacker.send(boss_hello(victim.session(), "not the victim's secret")));
  std::optional<proto::Message> reply = attacker.receive(10s);
  ASSERT_TRUE(reply);
  ASSERT_EQ(reply->type(), proto::Type::kError)
      << "the attacker took over the victim's session: " << proto::type_name(reply->type());
  EXPECT_EQ(reply->error().code, "refused");
  EXPECT_TRUE(contains(reply->error().text, "belongs to another client")) << reply->error().text;
  // The victim gets its own result; the attacker gets nothing of it.
  EXPECT_EQ(victim.task.get(), 1500);
  EXPECT_FALSE(attacker.expect(proto::Type::kResult, 500ms));
}

TEST(Owners, AnotherKeyCannotOpenASessionOfAKeyItIsNot) {
  TestCluster cluster({.workers = 1, .keys = {{"alice", "boss"}, {"bob", "boss"}}});
  ConnectOptions alice;
  alice.key_file = cluster.key_file("alice").string();
  Cluster boss = cluster.connect(alice);
  Future<int> f = boss.function<int(int)>(module_path("testfns"), "sleep_ms")(1000);
  const std::uint64_t session = proto::TaskId::parse(f.id())->session;
  RawPeer bob(cluster, RawPeer::key_file_keys(cluster, "bob"));
  ASSERT_TRUE(bob.send(boss_hello(session)));
  std::optional<proto::Message> reply = bob.receive(10s);
  ASSERT_TRUE(reply);
  ASSERT_EQ(reply->type(), proto::Type::kError) << proto::type_name(reply->type());
  EXPECT_TRUE(contains(reply->error().text, "refused: key 'bob' may not open session"))
      << reply->error().text;
  EXPECT_EQ(f.get(), 1000);
  // Nor cancel alice's task through the API: a RefusedError, exit 3 in the CLI.
  ConnectOptions bobs;
  bobs.key_file = cluster.key_file("bob").string();
  Cluster other = cluster.connect(bobs);
  EXPECT_THROW(other.cancel({f.id()}), RefusedError);
}

}  // namespace
}  // namespace uni::test
