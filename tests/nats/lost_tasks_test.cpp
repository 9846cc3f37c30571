// A boss on NATS loses no task (hardening round 3, tasks lost on NATS): tasks
// submitted while the cluster does not answer (a hung node, an election) are
// stored once it does, none dropped on the way; and tasks the cluster no
// longer holds after it stored them (a stream lost with its node, purged)
// are found, said, and submitted again.
#include <gtest/gtest.h>

#include <thread>

#include "engine_harness.hpp"
#include "nats/store/task_queue.hpp"
#include "uni/detail/platform.hpp"
#include "uni_on_nats.hpp"

namespace uni::nats {
namespace {

using proto::Status;

// The first request of the boss for a job (is the module stored? the task
// queue's stream) timed out while the node was stopped: the job was dropped
// and its tasks waited for ever.
TEST(LostTasks, TasksSubmittedWhileTheClusterIsSilentAreStoredOnceItAnswers) {
  test::NatsCluster nats;
  EngineConfig config = config_for(nats);
  config.api_timeout = 1s;
  BossEngine boss(config, 0x7001);
  WorkerEngine worker(config_for(nats), identity("w1"));
  worker.set_credit(100);
  nats.node(0).pause();
  std::vector<proto::Task> sent = tasks(0x7001, 20);
  boss.submit(kPlatform, sent);
  std::this_thread::sleep_for(2500ms);  // the boss's requests time out meanwhile
  nats.node(0).resume();
  auto got = pump(boss, &worker, sent.size(), echo, 30s);
  ASSERT_EQ(got.size(), sent.size());
  for (const proto::Task& t : sent) EXPECT_EQ(got[t.id].at(0).status, Status::kOk);
  EXPECT_EQ(boss.outstanding(), 0u);
}

// The same for the module's upload: a put that timed out left its tasks
// parked for ever (the module was never asked for again).
TEST(LostTasks, AModuleUploadThatTimedOutIsTriedAgain) {
  test::NatsCluster nats;
  EngineConfig config = config_for(nats);
  config.api_timeout = 1s;
  BossEngine boss(config, 0x7002);
  std::vector<proto::Task> sent = tasks(0x7002, 5);
  boss.submit(kPlatform, sent);
  // The boss asks for the module; the node stops before it is stored.
  ASSERT_TRUE(testing::eventually([&] {
    wait_for_events(&boss, nullptr, 100ms);
    BossEvents b = boss.take();
    if (b.modules_needed.empty()) return false;
    nats.node(0).pause();
    boss.put_module(b.modules_needed[0], kPlatform, kModuleBytes);
    return true;
  }));
  std::this_thread::sleep_for(2500ms);
  nats.node(0).resume();
  WorkerEngine worker(config_for(nats), identity("w1"));
  worker.set_credit(100);
  auto got = pump(boss, &worker, sent.size(), echo, 30s);
  ASSERT_EQ(got.size(), sent.size());
  for (const proto::Task& t : sent) EXPECT_EQ(got[t.id].at(0).status, Status::kOk);
}

// Tasks the cluster stored and then lost (here purged from their stream, as
// a stream with one replica loses them with its node): the boss that waits
// for them says so and submits them again; the map ends, exact and in order.
TEST(LostTasks, AMapWhoseTasksTheClusterLostSaysSoAndSubmitsThemAgain) {
  test::NatsCluster nats;
  test::UniOnNats uni(nats.address());
  const int count = 300;
  test::ChildProcess map = uni.start_cli({"map", test::module_path("slowident"), "slow_ident"},
                                         test::slow_ident_input(count, 1), "map");
  // No worker yet: the tasks wait in their stream.
  Connection c = Connection::connect({.address = nats.address()});
  JetStream js(c);
  const std::string platform = UNI_PLATFORM_TAG;
  const std::string stream = Names().task_stream(platform);
  ASSERT_TRUE(testing::eventually(
      [&] {
        std::optional<std::uint64_t> held =
            TaskQueue::count_tasks(js, stream, Names().task_subject(platform) + ".>");
        return held && *held == count;
      },
      20s))
      << map.read_stderr();
  js.purge_subject(stream, Names().task_subject(platform) + ".>");
  test::ChildProcess worker = uni.worker(4);
  std::optional<test::ExitStatus> status = map.wait_for(40s);
  if (!status) map.kill();
  ASSERT_TRUE(status) << "the map waits for ever: " << map.read_stderr();
  EXPECT_EQ(status->code, 0) << map.read_stderr();
  EXPECT_TRUE(test::results_in_order(map.read_stdout(), count));
  EXPECT_NE(map.read_stderr().find("no longer holds " + std::to_string(count) + " task(s)"),
            std::string::npos)
      << map.read_stderr();
}

}  // namespace
}  // namespace uni::nats
