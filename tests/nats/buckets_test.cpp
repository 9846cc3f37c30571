// KV buckets with a TTL on a real nats-server: entries expire TTL after their
// last put, and a refreshed one does not; the worker registry and the
// services list show what announced itself recently and forget what stopped.
#include <gtest/gtest.h>

#include "nats/store/registry.hpp"
#include "nats_server.hpp"
#include "nats_test_util.hpp"

namespace uni::nats {
namespace {

using namespace std::chrono_literals;
using testing::eventually;

struct Fixture {
  test::NatsCluster nats;
  Connection connection = Connection::connect({.address = nats.address()});
  JetStream js{connection};
};

TEST(KvBucket, EntriesExpireTtlAfterTheirLastPut) {
  Fixture f;
  KvBucket bucket = KvBucket::open(f.js, {.bucket = "ttl", .ttl = 1500ms});
  EXPECT_EQ(bucket.ttl(), 1500ms);
  bucket.put("stale", "1");
  bucket.put("fresh", "1");
  EXPECT_EQ(bucket.get("stale"), "1");
  // Keep "fresh" alive past the TTL of "stale".
  auto start = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() - start < 3s) {
    bucket.put("fresh", "2");
    std::this_thread::sleep_for(300ms);
  }
  EXPECT_TRUE(eventually([&] { return !bucket.get("stale"); }));
  EXPECT_EQ(bucket.get("fresh"), "2");
  EXPECT_EQ(bucket.keys(), std::vector<std::string>{"fresh"});
}

TEST(KvBucket, RefusesAnInvalidKey) {
  Fixture f;
  KvBucket bucket = KvBucket::open(f.js, {.bucket = "keys"});
  EXPECT_THROW(bucket.put("a b", "x"), NatsError);
  EXPECT_THROW(bucket.put("a*", "x"), NatsError);
  bucket.put("w-1.host/x=y_z", "ok");
  EXPECT_EQ(bucket.get("w-1.host/x=y_z"), "ok");
  EXPECT_TRUE(bucket.keys().size() == 1);
}

TEST(Registry, ListsLiveWorkersAndServicesAndForgetsTheDead) {
  Fixture f;
  Names names;
  WorkerRegistry workers = WorkerRegistry::open(f.js, names, {.ttl = 1500ms});
  ServiceRegistry services = ServiceRegistry::open(f.js, names, {.ttl = 1500ms});
  workers.announce({.id = "w1",
                    .host = "h1",
                    .platform = "p",
                    .isolation = "process",
                    .pid = 11,
                    .slots = 2,
                    .busy = 1});
  workers.announce({.id = "w2",
                    .host = "h2",
                    .platform = "p",
                    .isolation = "thread",
                    .pid = 22,
                    .slots = 4,
                    .busy = 0});
  services.announce({.id = "00000000000000aa-1", .worker = "w1", .function = "echo"});
  std::vector<WorkerEntry> listed = workers.list();
  ASSERT_EQ(listed.size(), 2u);
  auto w1 = std::find_if(listed.begin(), listed.end(), [](auto& w) { return w.id == "w1"; });
  ASSERT_NE(w1, listed.end());
  EXPECT_EQ(w1->host, "h1");
  EXPECT_EQ(w1->pid, 11u);
  EXPECT_EQ(w1->slots, 2u);
  EXPECT_EQ(w1->busy, 1u);
  EXPECT_EQ(services.find("00000000000000aa-1")->function, "echo");

  workers.leave("w2");  // stops cleanly
  EXPECT_EQ(workers.list().size(), 1u);
  // w1 dies: nobody announces it again, and its service goes with it.
  EXPECT_TRUE(eventually([&] { return workers.list().empty() && services.list().empty(); }));
  EXPECT_THROW(workers.announce({.id = "bad id"}), std::invalid_argument);
}

}  // namespace
}  // namespace uni::nats
