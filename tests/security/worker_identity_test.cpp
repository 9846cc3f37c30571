// A worker is its key and its connection, not the id it gives nor the tasks
// it says it holds (docs/security.md §4, "a worker"). From the attacker's
// side, against real managers and workers: a HELLO that lists another boss's
// queued task does not hand it over (a forged result is not believed, the
// real worker's is); a connection that takes a live worker's routing id and
// worker id is refused and gets none of its tasks. Both with the shared
// authkey (these are bugs, not policy) and with a worker key of its own.
#include <gtest/gtest.h>

#include <thread>

#include "common/module_file.hpp"
#include "forged_messages.hpp"

namespace uni::test {
namespace {

using namespace std::chrono_literals;

constexpr std::uint64_t kFactorial20 = 2432902008176640000ull;

// A worker that says it runs `id` (factorial of the test module), with no
// room for tasks of its own: whatever it gets, it got by its claim.
proto::RunningTask claim(const proto::TaskId& id) {
  proto::RunningTask rt;
  rt.id = id;
  rt.module = ModuleFile::load(module_path("factorial")).hash;
  rt.function = "factorial";
  return rt;
}

void hello_adoption_is_refused(TestCluster& cluster, const CurveKeys& attacker_keys) {
  Cluster boss = cluster.connect();
  Future<std::uint64_t> f =
      boss.function<std::uint64_t(int)>(module_path("factorial"), "factorial")(20);
  const proto::TaskId id = *proto::TaskId::parse(f.id());
  ASSERT_FALSE(f.wait_for(300ms));  // no worker yet: queued

  RawPeer attacker(cluster, attacker_keys);
  ASSERT_TRUE(attacker.send(worker_hello("attacker", 0, {claim(id)})));
  ASSERT_TRUE(attacker.expect(proto::Type::kWelcome, 10s)) << "the attacker was not welcomed";
  // It is told to drop the task it claims ...
  std::optional<proto::Message> cancel = attacker.expect(proto::Type::kCancel, 10s);
  EXPECT_TRUE(cancel) << "the manager let the attacker keep another boss's task";
  if (cancel) {
    EXPECT_EQ(cancel->task_ids(), std::vector<proto::TaskId>{id});
  }
  // ... and its forged result is not believed.
  ASSERT_TRUE(attacker.send(forged_result(id, msgpack_uint(424242))));
  EXPECT_FALSE(f.wait_for(500ms)) << "a forged result answered the boss";

  // A real worker runs the task; the boss gets the real result.
  cluster.add_worker(1);
  ASSERT_TRUE(f.wait_for(30s));
  EXPECT_EQ(f.get(), kFactorial20);
  EXPECT_NE(f.worker().host, "attacker");
}

TEST(WorkerIdentity, AHelloListingAnotherBossesQueuedTaskDoesNotHandItOver) {
  TestCluster cluster({.workers = 0});
  hello_adoption_is_refused(cluster, RawPeer::authkey_keys(cluster));
}

TEST(WorkerIdentity, AWorkerKeyCannotClaimAnotherBossesTaskEither) {
  TestCluster cluster({.workers = 0, .keys = {{"alice", "boss"}, {"mallory", "worker"}}});
  hello_adoption_is_refused(cluster, RawPeer::key_file_keys(cluster, "mallory"));
}

TEST(WorkerIdentity, AConnectionTakingALiveWorkersRoutingIdAndIdIsRefusedAndGetsNoTask) {
  TestCluster cluster({.workers = 1, .slots = 1});
  nlohmann::json status = cluster.status();
  ASSERT_EQ(status["workers"].size(), 1u) << status.dump();
  const std::string victim = status["workers"][0]["id"];
  const int victim_pid = status["workers"][0]["pid"];

  // The routing id the worker used to choose for itself, and its id.
  RawPeer attacker(cluster, RawPeer::authkey_keys(cluster), "w" + victim);
  ASSERT_TRUE(attacker.send(worker_hello(victim, 8)));
  std::optional<proto::Message> reply = attacker.receive(10s);
  ASSERT_TRUE(reply) << "no answer to the impostor's HELLO";
  EXPECT_EQ(reply->type(), proto::Type::kError) << "the impostor was welcomed as worker " << victim;
  if (reply->type() == proto::Type::kError) {
    EXPECT_EQ(reply->error().code, "refused");
    EXPECT_NE(reply->error().text.find("worker " + victim + " is connected already"),
              std::string::npos)
        << reply->error().text;
  }

  // A boss's task goes to the real worker, arguments and all; the impostor
  // sees none of it (if it did, it answers as it likes).
  ChildProcess run =
      cluster.start("run", {uni_binary(), "run", module_path("testfns"), "add", "20", "22"});
  if (std::optional<proto::Message> tasks = attacker.expect(proto::Type::kTasks, 3s)) {
    ADD_FAILURE() << "the impostor was sent the victim's tasks";
    for (const proto::Task& t : tasks->tasks())
      attacker.send(forged_result(t.id, msgpack_uint(424242)));
  }
  ASSERT_TRUE(run.wait_for(30s)) << "uni run did not finish";
  EXPECT_EQ(run.read_stdout(), "42\n") << run.read_stderr();
  status = cluster.status();
  ASSERT_EQ(status["workers"].size(), 1u) << status.dump();
  EXPECT_EQ(status["workers"][0]["pid"], victim_pid);
  EXPECT_EQ(status["workers"][0]["completed"], 1);
}

TEST(WorkerIdentity, AWorkerKeyCannotTakeOverAnotherWorkersIdEither) {
  TestCluster cluster(
      {.workers = 0, .keys = {{"w1", "worker"}, {"mallory", "worker"}, {"alice", "boss"}}});
  cluster.add_worker(1, {"--key", cluster.key_file("w1").string()});
  nlohmann::json status = cluster.status();
  ASSERT_EQ(status["workers"].size(), 1u) << status.dump();
  const std::string victim = status["workers"][0]["id"];
  RawPeer attacker(cluster, RawPeer::key_file_keys(cluster, "mallory"));
  ASSERT_TRUE(attacker.send(worker_hello(victim, 8)));
  std::optional<proto::Message> reply = attacker.receive(10s);
  ASSERT_TRUE(reply);
  ASSERT_EQ(reply->type(), proto::Type::kError) << proto::type_name(reply->type());
  EXPECT_NE(reply->error().text.find("from another key"), std::string::npos) << reply->error().text;
  CommandResult r = cluster.uni({"run", module_path("testfns"), "add", "1", "2"},
                                {.env = {"UNI_KEY=" + cluster.key_file("alice").string()}});
  EXPECT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_EQ(r.out, "3\n") << r.describe();
}

}  // namespace
}  // namespace uni::test
