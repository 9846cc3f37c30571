// Results and cancels on a real nats-server: a boss that is there gets its
// results at once; a boss that left finds them later by task id (tasks
// outlive their boss), also after waiting for one still to come; a
// reconnecting boss replays from a stream sequence; other sessions' results
// do not mix in. Cancels are kept, so a worker that starts later learns them.
#include <gtest/gtest.h>

#include "nats/store/cancel_channel.hpp"
#include "nats/store/result_stream.hpp"
#include "nats_server.hpp"

namespace uni::nats {
namespace {

using namespace std::chrono_literals;

proto::Result make_result(std::uint64_t session, std::uint64_t seq, const std::string& payload) {
  proto::Result result;
  result.id = {session, seq};
  result.status = proto::Status::kOk;
  result.payload = payload;
  result.worker = "w1";
  result.host = "h1";
  result.pid = 42;
  return result;
}

struct Fixture {
  test::NatsCluster nats;
  Names names;
  Connection connection = Connection::connect({.address = nats.address()});
  JetStream js{connection};
  ResultStream results = ResultStream::open(js, names);
};

TEST(ResultStream, ALiveBossGetsItsResultsAndOnlyItsOwn) {
  Fixture f;
  ResultFeed feed = f.results.subscribe(0xb055);
  proto::Result mine = make_result(0xb055, 1, "\x2a"), other = make_result(0xfeed, 1, "\x01");
  f.results.publish(0xfeed, {&other});
  f.results.publish(0xb055, {&mine});
  std::vector<proto::Result> got = feed.next(5s);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].id, mine.id);
  EXPECT_EQ(got[0].payload, "\x2a");
  EXPECT_EQ(got[0].worker, "w1");
  EXPECT_EQ(got[0].pid, 42u);
  EXPECT_TRUE(feed.next(300ms).empty());
}

TEST(ResultStream, ABossThatLeftFindsItsResultLaterById) {
  Fixture f;
  proto::Result a = make_result(0x5e55, 1, "\x01"), b = make_result(0x5e55, 2, "\x02");
  f.results.publish(0x5e55, {&a, &b});
  // Later, another process (`uni result ID`) with its own connection.
  Connection later = Connection::connect({.address = f.nats.address()});
  JetStream js(later);
  ResultStream lookup = ResultStream::open(js, f.names);
  std::optional<proto::Result> found = lookup.find({0x5e55, 2});
  ASSERT_TRUE(found);
  EXPECT_EQ(found->payload, "\x02");
  EXPECT_FALSE(lookup.find({0x5e55, 3}));
  EXPECT_FALSE(lookup.find({0x1234, 1}));
  // Waiting for one that is still running.
  std::thread worker([&] {
    std::this_thread::sleep_for(500ms);
    proto::Result c = make_result(0x5e55, 3, "\x03");
    f.results.publish(0x5e55, {&c});
  });
  std::optional<proto::Result> waited = lookup.wait_for({0x5e55, 3}, 10s);
  worker.join();
  ASSERT_TRUE(waited);
  EXPECT_EQ(waited->payload, "\x03");
  EXPECT_FALSE(lookup.wait_for({0x5e55, 4}, 300ms));
}

TEST(ResultStream, AReconnectingBossReplaysFromASequence) {
  Fixture f;
  std::vector<proto::Result> batch = {make_result(9, 1, "\x01"), make_result(9, 2, "\x02"),
                                      make_result(9, 3, "\x03")};
  for (const proto::Result& result : batch) f.results.publish(9, {&result});
  std::vector<StoredResults> all = f.results.read(9);
  ASSERT_EQ(all.size(), 3u);
  std::vector<StoredResults> missed = f.results.read(9, all[0].stream_seq + 1);
  ASSERT_EQ(missed.size(), 2u);
  EXPECT_EQ(missed[0].results[0].id, batch[1].id);
  EXPECT_EQ(missed[1].results[0].id, batch[2].id);
}

TEST(CancelChannel, AWorkerThatStartsLaterLearnsEarlierCancels) {
  Fixture f;
  CancelChannel cancels = CancelChannel::open(f.js, f.names);
  cancels.cancel(0xaa, {{0xaa, 1}, {0xaa, 2}});
  CancelFeed feed = cancels.follow();
  std::vector<proto::TaskId> early = feed.next(5s);
  ASSERT_EQ(early.size(), 2u);
  EXPECT_EQ(early[1], (proto::TaskId{0xaa, 2}));
  cancels.cancel(0xbb, {{0xbb, 7}});
  std::vector<proto::TaskId> live = feed.next(5s);
  ASSERT_EQ(live.size(), 1u);
  EXPECT_EQ(live[0], (proto::TaskId{0xbb, 7}));
  EXPECT_TRUE(feed.next(300ms).empty());
}

}  // namespace
}  // namespace uni::nats
