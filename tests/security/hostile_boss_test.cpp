// After authentication: what a peer holding the key can make the manager do
// with one message. Attackers written for the test (RawPeer) send a
// megabyte of bad SUBMIT records, a worker HELLO announcing 300,000 held
// tasks, forty megabytes of tasks parked for a module that never comes, a
// stream of garbage, and frames over the frame limit. The manager must
// answer each quickly and clearly, count it, stay small, and keep serving
// everyone else.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "common/hash.hpp"
#include "common/module_file.hpp"
#include "hostile_peers.hpp"
#include "proto/chunks.hpp"
#include "test_cluster.hpp"

namespace uni::test {
namespace {

using namespace std::chrono_literals;
using Packer = msgpack::packer<msgpack::sbuffer>;

constexpr std::uint64_t kMiB = 1 << 20;
constexpr std::uint64_t kSession = 0x5eed0001;

std::uint64_t refused(const nlohmann::json& status, const std::string& limit) {
  return status["limits"]["refused"].value(limit, std::uint64_t{0});
}

std::size_t count_lines(const std::string& text, const std::string& part) {
  std::size_t n = 0;
  for (const std::string& line : split_lines(text))
    if (contains(line, part)) ++n;
  return n;
}

// A SUBMIT of `count` records, each packed by `record`.
template <class Record>
std::string submit_of(std::uint32_t count, Record record) {
  return message(proto::Type::kSubmit, 1, [&](Packer& p) {
    p.pack_array(count);
    for (std::uint32_t i = 0; i < count; ++i) record(p, i);
  });
}

// Round trips of `add` through the C++ API, timed, until `stop`.
void time_round_trips(uni::Cluster& cluster, const std::atomic<bool>& stop,
                      std::vector<std::chrono::microseconds>& times) {
  auto add = cluster.function<int(int, int)>(module_path("testfns"), "add");
  while (!stop) {
    auto start = std::chrono::steady_clock::now();
    EXPECT_EQ(add(20, 22).get(), 42);
    times.push_back(std::chrono::duration_cast<std::chrono::microseconds>(
        std::chrono::steady_clock::now() - start));
  }
}

std::chrono::microseconds slowest(const std::vector<std::chrono::microseconds>& times) {
  return times.empty() ? std::chrono::microseconds(0)
                       : *std::max_element(times.begin(), times.end());
}

TEST(HostileBoss, AMegabyteSubmitOfBadRecordsIsRefusedAtOnceAndDelaysNoOtherClient) {
  TestCluster cluster;
  uni::Cluster client = cluster.connect();
  // The other client's round trips before the attack, for comparison.
  std::vector<std::chrono::microseconds> before, during;
  {
    std::atomic<bool> stop{false};
    std::thread timing([&] { time_round_trips(client, stop, before); });
    std::this_thread::sleep_for(1s);
    stop = true;
    timing.join();
  }
  ASSERT_FALSE(before.empty());

  RawPeer attacker(cluster, "b-attacker");
  ASSERT_TRUE(attacker.hello_as_boss(kSession));
  // A million nil records: each once cost the manager a C++ exception and an
  // error string (1 MB froze its loop for seconds).
  const std::string nils = submit_of(1'000'000, [](Packer& p, std::uint32_t) { p.pack_nil(); });
  ASSERT_GT(nils.size(), 1'000'000u);

  std::atomic<bool> stop{false};
  std::thread timing([&] { time_round_trips(client, stop, during); });
  std::vector<std::chrono::microseconds> refusals;
  for (int i = 0; i < 10; ++i) {
    auto start = std::chrono::steady_clock::now();
    ASSERT_TRUE(attacker.send(nils));
    std::optional<proto::Message> reply = attacker.receive(5s);
    refusals.push_back(std::chrono::duration_cast<std::chrono::microseconds>(
        std::chrono::steady_clock::now() - start));
    ASSERT_TRUE(reply);
    ASSERT_EQ(reply->type(), proto::Type::kError) << proto::type_name(reply->type());
    EXPECT_EQ(reply->error().code, "malformed") << reply->error().text;
  }
  stop = true;
  timing.join();

  for (std::chrono::microseconds t : refusals)
    EXPECT_LT(t, 50ms) << "refusing a 1 MB SUBMIT of bad records took " << t.count() << " us";
  ASSERT_FALSE(during.empty());
  EXPECT_LT(slowest(during), slowest(before) + 100ms)
      << "slowest round trip before: " << slowest(before).count()
      << " us, during the attack: " << slowest(during).count() << " us";
  EXPECT_EQ(cluster.status()["totals"]["submitted"], during.size() + before.size());
}

TEST(HostileBoss, EveryTaskOfARefusedSubmitIsAnsweredAndNoneTaken) {
  TestCluster cluster({.workers = 0});
  RawPeer attacker(cluster, "b-attacker");
  ASSERT_TRUE(attacker.hello_as_boss(kSession));
  // 20,000 records that are only an id: each is answered `rejected`, by id.
  const std::uint32_t count = 20'000;
  const std::string ids_only = submit_of(count, [](Packer& p, std::uint32_t i) {
    p.pack_array(2);
    p.pack_uint64(kSession);
    p.pack_uint64(i + 1);
  });
  ASSERT_TRUE(attacker.send(ids_only));
  std::size_t rejected = 0, errors = 0;
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (rejected < count && std::chrono::steady_clock::now() < deadline) {
    std::optional<proto::Message> m = attacker.receive(2s);
    if (!m) break;
    if (m->type() == proto::Type::kError) ++errors;
    if (m->type() != proto::Type::kResult) continue;
    for (const proto::Result& r : m->results()) {
      EXPECT_EQ(r.status, proto::Status::kRejected);
      EXPECT_TRUE(contains(r.payload, "record 1 of 20000")) << r.payload;
      ++rejected;
    }
  }
  EXPECT_EQ(rejected, count);
  EXPECT_EQ(errors, 1u);
  nlohmann::json status = cluster.status();
  EXPECT_EQ(status["totals"]["submitted"], 0);
  EXPECT_GE(refused(status, "malformed"), 1u);
}

// A worker HELLO announcing `held` running tasks, for `slots` slots.
std::string worker_hello(std::uint32_t slots, std::uint32_t held) {
  proto::Hello h;
  h.role = "worker";
  h.worker_id = "hostile1";
  h.host = "nowhere";
  h.pid = 1;
  h.slots = slots;
  h.capacity = slots;
  h.platform = "x86_64-linux-libstdc++-cxx11";
  h.isolation = "process";
  ModuleHash hash = ModuleHash::of("no such module");
  h.running.reserve(held);
  for (std::uint32_t i = 0; i < held; ++i)
    h.running.push_back({proto::TaskId{kSession, i + 1}, hash, "f", 0, 1});
  return proto::encode_hello(h);
}

TEST(HostileBoss, AWorkerHelloWithThreeHundredThousandHeldTasksIsRefused) {
  TestCluster cluster;
  const pid_t manager = cluster.manager().pid();
  RawPeer attacker(cluster, "whostile1");
  const std::string hello = worker_hello(4, 300'000);
  ASSERT_GT(hello.size(), 10 * kMiB);
  ASSERT_TRUE(attacker.send(hello));
  std::optional<proto::Message> reply = attacker.receive(10s);
  ASSERT_TRUE(reply);
  ASSERT_EQ(reply->type(), proto::Type::kError) << proto::type_name(reply->type());
  // Refused before any record is read: too many values for one message.
  EXPECT_EQ(reply->error().code, "malformed");
  EXPECT_TRUE(contains(reply->error().text, "values")) << reply->error().text;

  // A smaller one, but still more than 4 slots can hold: refused by name.
  RawPeer second(cluster, "whostile2");
  ASSERT_TRUE(second.send(worker_hello(4, 5000)));
  std::optional<proto::Message> refusal = second.receive(10s);
  ASSERT_TRUE(refusal);
  ASSERT_EQ(refusal->type(), proto::Type::kError) << proto::type_name(refusal->type());
  EXPECT_EQ(refusal->error().code, "refused");
  EXPECT_TRUE(contains(refusal->error().text, "4 slot(s) holds at most 4100 tasks"))
      << refusal->error().text;

  nlohmann::json status = cluster.status();
  EXPECT_EQ(status["workers"].size(), 1u) << status.dump();  // the cluster's own
  EXPECT_EQ(status["assigned"], 0);
  EXPECT_EQ(refused(status, "hello"), 1u);
  EXPECT_LT(peak_rss(manager), 200 * kMiB) << peak_rss(manager) / kMiB << " MiB";
  // No line per announced task.
  EXPECT_LT(split_lines(cluster.manager().read_stderr()).size(), 50u);
  CommandResult r = cluster.uni({"run", module_path("testfns"), "add", "20", "22"});
  EXPECT_EQ(r.out, "42\n") << r.describe();
}

TEST(HostileBoss, ParkedDetachedTasksAreBoundedInBytesAndDroppedWhenTheirBossLeaves) {
  TestCluster cluster({.manager_args = {"--max-queued-bytes", "20M"}});
  const pid_t manager = cluster.manager().pid();
  RawPeer attacker(cluster, "b-parker");
  ASSERT_TRUE(attacker.hello_as_boss(kSession));
  // 40 detached tasks of 1 MiB each, for a module the attacker never uploads.
  const ModuleHash never = ModuleHash::of("a module that never comes");
  const std::string arguments(kMiB, 'a');
  for (std::uint64_t seq = 1; seq <= 40; ++seq) {
    proto::Task t;
    t.id = {kSession, seq};
    t.module = never;
    t.function = "f";
    t.args = arguments;
    t.flags = proto::kFlagDetached;
    ASSERT_TRUE(attacker.send(proto::encode_submit({&t})));
  }
  std::size_t full = 0, asked = 0;
  while (std::optional<proto::Message> m = attacker.receive(2s)) {
    if (m->type() == proto::Type::kNeedModule) ++asked;
    if (m->type() != proto::Type::kResult) continue;
    for (const proto::Result& r : m->results()) {
      EXPECT_EQ(r.status, proto::Status::kQueueFull) << r.payload;
      EXPECT_TRUE(contains(r.payload, "--max-queued-bytes")) << r.payload;
      ++full;
    }
  }
  EXPECT_EQ(asked, 1u);
  EXPECT_GE(full, 20u);
  nlohmann::json status = cluster.status();
  const std::uint64_t parked = status["waiting_for_module"];
  EXPECT_EQ(parked + full, 40u);
  EXPECT_LE(status["limits"]["queued_bytes"].get<std::uint64_t>(), 20 * kMiB);
  EXPECT_EQ(refused(status, "queued-bytes"), full);

  // The boss leaves without uploading: its parked tasks cannot run, ever.
  ASSERT_TRUE(attacker.send(proto::encode_bye("leaving")));
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (cluster.status()["waiting_for_module"] != 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(100ms);
  status = cluster.status();
  EXPECT_EQ(status["waiting_for_module"], 0);
  EXPECT_EQ(refused(status, "detached-expired"), parked);
  EXPECT_LT(status["limits"]["queued_bytes"].get<std::uint64_t>(), kMiB);
  EXPECT_LT(peak_rss(manager), 200 * kMiB) << peak_rss(manager) / kMiB << " MiB";
}

TEST(HostileBoss, APeerThatKeepsSendingGarbageLosesItsConnectionAndFloodsNoLog) {
  TestCluster cluster;
  RawPeer attacker(cluster, "b-garbage");
  ASSERT_TRUE(attacker.hello_as_boss(kSession));
  const std::string garbage = "\xc1 not msgpack at all";
  std::size_t errors = 0;
  bool cut = false;
  for (int i = 0; i < 40 && !cut; ++i) {
    ASSERT_TRUE(attacker.send_frame(garbage));
    if (std::optional<proto::Message> m = attacker.receive(1s);
        m && m->type() == proto::Type::kError)
      ++errors;
    cut = attacker.disconnected_within(0ms);
  }
  EXPECT_TRUE(cut || attacker.disconnected_within(2s)) << errors << " errors, still connected";
  EXPECT_LE(errors, 12u);
  nlohmann::json status = cluster.status();
  EXPECT_GE(refused(status, "closed"), 1u) << status["limits"].dump();
  std::string log = cluster.manager().read_stderr();
  EXPECT_LE(count_lines(log, "malformed message"), 6u) << log;
  EXPECT_EQ(count_lines(log, "closed the connection"), 1u) << log;
  CommandResult r = cluster.uni({"run", module_path("testfns"), "add", "20", "22"});
  EXPECT_EQ(r.out, "42\n") << r.describe();
}

TEST(HostileBoss, AFrameOverTheFrameLimitEndsTheConnection) {
  TestCluster cluster;
  RawPeer attacker(cluster, "b-bigframe");
  ASSERT_TRUE(attacker.hello_as_boss(kSession));
  std::string big = proto::encode_heartbeat();
  big.resize(proto::kMaxFrameBytes + 4096, '\0');
  ASSERT_TRUE(attacker.send_frame(big));
  EXPECT_TRUE(attacker.disconnected_within(5s));
  CommandResult r = cluster.uni({"run", module_path("testfns"), "add", "20", "22"});
  EXPECT_EQ(r.out, "42\n") << r.describe();
}

TEST(HostileBoss, AChunkedUploadOverTheLimitIsRefusedUnkeptAndFailsItsTasks) {
  TestCluster cluster({.manager_args = {"--max-message", "2M", "--max-module", "1M"}});
  const pid_t manager = cluster.manager().pid();
  RawPeer boss(cluster, "b-uploader");
  ASSERT_TRUE(boss.hello_as_boss(kSession));
  const ModuleHash hash = ModuleHash::of("pretend");
  proto::Task t;
  t.id = {kSession, 1};
  t.module = hash;
  t.function = "f";
  ASSERT_TRUE(boss.send(proto::encode_submit({&t})));
  std::optional<proto::Message> need = boss.receive(5s);
  ASSERT_TRUE(need && need->type() == proto::Type::kNeedModule);
  // 64 MiB in pieces: the manager counts them and keeps none past 2 MiB.
  const std::string upload =
      proto::encode_put_module(hash, "x86_64-linux-libstdc++-cxx11", std::string(64 * kMiB, 'm'));
  ASSERT_TRUE(boss.send(upload));
  bool too_large = false, failed = false;
  while (std::optional<proto::Message> m = boss.receive(3s)) {
    if (m->type() == proto::Type::kError) {
      EXPECT_EQ(m->error().code, "too-large");
      EXPECT_TRUE(contains(m->error().text, std::to_string(upload.size()))) << m->error().text;
      too_large = true;
    }
    if (m->type() == proto::Type::kResult)
      for (const proto::Result& r : m->results()) {
        EXPECT_EQ(r.id.seq, 1u);
        EXPECT_EQ(r.status, proto::Status::kRejected);
        failed = true;
      }
  }
  EXPECT_TRUE(too_large);
  EXPECT_TRUE(failed) << "the task waiting for the refused upload got no answer";
  EXPECT_LT(peak_rss(manager), 100 * kMiB) << peak_rss(manager) / kMiB << " MiB";
  EXPECT_EQ(refused(cluster.status(), "too-large"), 1u);
}

}  // namespace
}  // namespace uni::test
