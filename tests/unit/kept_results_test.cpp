// Proves the manager's store of kept results and its held queries alone, with
// no socket and a clock moved by hand (manager/kept_results.hpp,
// manager/result_waiters.hpp): a result is found by id as often as asked; it
// expires after its keep time; past the count or byte bound the oldest is
// evicted first; a result too large for the bound is not kept; dropped ids
// are told apart (expired, evicted) within a bounded memory; held queries
// come out when their task ends, at their deadline, or with their peer, and
// no more than kMaxHeld are held.
#include <gtest/gtest.h>

#include "manager/kept_results.hpp"
#include "manager/result_waiters.hpp"

namespace uni::manager {
namespace {

using namespace std::chrono_literals;
using proto::TaskId;

const Clock::time_point kStart = Clock::time_point(std::chrono::hours(1000));

proto::Result result(std::uint64_t seq, std::size_t payload_bytes = 10,
                     proto::Status status = proto::Status::kOk) {
  proto::Result r;
  r.id = {0xABC, seq};
  r.status = status;
  r.payload = std::string(payload_bytes, 'x');
  r.worker = "w1";
  r.host = "h1";
  r.attempt = 2;
  return r;
}

TEST(KeptResults, AResultIsFoundByIdAsOftenAsAskedWithItsWorkerAndAttempt) {
  KeptResults kept({24h, 10, 1 << 20});
  EXPECT_TRUE(kept.keep(result(1, 10, proto::Status::kException), kStart));
  for (int i = 0; i < 3; ++i) {
    const proto::Result* r = kept.find({0xABC, 1});
    ASSERT_NE(r, nullptr);
    EXPECT_EQ(r->status, proto::Status::kException);
    EXPECT_EQ(r->worker, "w1");
    EXPECT_EQ(r->host, "h1");
    EXPECT_EQ(r->attempt, 2);
  }
  EXPECT_EQ(kept.find({0xABC, 2}), nullptr);
  EXPECT_EQ(kept.count(), 1u);
  EXPECT_FALSE(kept.dropped({0xABC, 2}).has_value());
}

TEST(KeptResults, TheFirstResultOfATaskIsTheOneKept) {
  KeptResults kept({24h, 10, 1 << 20});
  kept.keep(result(1, 1), kStart);
  kept.keep(result(1, 50), kStart + 1s);
  EXPECT_EQ(kept.find({0xABC, 1})->payload.size(), 1u);
  EXPECT_EQ(kept.count(), 1u);
}

TEST(KeptResults, AResultExpiresAfterItsKeepTimeAndIsToldExpired) {
  KeptResults kept({10s, 10, 1 << 20});
  kept.keep(result(1), kStart);
  kept.keep(result(2), kStart + 5s);
  kept.expire(kStart + 9s);
  EXPECT_EQ(kept.count(), 2u);
  kept.expire(kStart + 10s);
  EXPECT_EQ(kept.find({0xABC, 1}), nullptr);
  EXPECT_EQ(kept.dropped({0xABC, 1}), KeptResults::Dropped::kExpired);
  ASSERT_NE(kept.find({0xABC, 2}), nullptr);
  kept.expire(kStart + 15s);
  EXPECT_EQ(kept.count(), 0u);
  EXPECT_EQ(kept.bytes(), 0u);
}

TEST(KeptResults, PastTheCountTheOldestIsEvictedFirst) {
  KeptResults kept({24h, 3, 1 << 20});
  for (std::uint64_t seq = 1; seq <= 5; ++seq) kept.keep(result(seq), kStart + seq * 1s);
  EXPECT_EQ(kept.count(), 3u);
  EXPECT_EQ(kept.dropped({0xABC, 1}), KeptResults::Dropped::kEvicted);
  EXPECT_EQ(kept.dropped({0xABC, 2}), KeptResults::Dropped::kEvicted);
  for (std::uint64_t seq = 3; seq <= 5; ++seq) EXPECT_NE(kept.find({0xABC, seq}), nullptr);
}

TEST(KeptResults, PastTheBytesTheOldestIsEvictedFirst) {
  const std::uint64_t one = 1000 + 4 + KeptResults::kEntryOverhead;  // payload, "w1", "h1"
  KeptResults kept({24h, 100, 2 * one + 10});
  kept.keep(result(1, 1000), kStart);
  kept.keep(result(2, 1000), kStart);
  EXPECT_EQ(kept.bytes(), 2 * one);
  kept.keep(result(3, 1000), kStart);
  EXPECT_EQ(kept.count(), 2u);
  EXPECT_EQ(kept.find({0xABC, 1}), nullptr);
  EXPECT_EQ(kept.dropped({0xABC, 1}), KeptResults::Dropped::kEvicted);
  EXPECT_LE(kept.bytes(), 2 * one + 10);
}

TEST(KeptResults, AResultLargerThanTheWholeBoundIsNotKeptAndEvictsNothing) {
  KeptResults kept({24h, 100, 4096});
  kept.keep(result(1, 10), kStart);
  EXPECT_FALSE(kept.keep(result(2, 5000), kStart));
  EXPECT_EQ(kept.find({0xABC, 2}), nullptr);
  EXPECT_EQ(kept.dropped({0xABC, 2}), KeptResults::Dropped::kEvicted);
  EXPECT_NE(kept.find({0xABC, 1}), nullptr);
}

TEST(KeptResults, DroppedIdsAreRememberedWithinABound) {
  KeptResults kept({24h, 1, 1 << 20});
  const std::uint64_t n = KeptResults::kDroppedRemembered + 10;
  for (std::uint64_t seq = 1; seq <= n + 1; ++seq) kept.keep(result(seq, 0), kStart);
  // n dropped; the oldest ten are forgotten.
  EXPECT_FALSE(kept.dropped({0xABC, 1}).has_value());
  EXPECT_FALSE(kept.dropped({0xABC, 10}).has_value());
  EXPECT_EQ(kept.dropped({0xABC, 11}), KeptResults::Dropped::kEvicted);
  EXPECT_EQ(kept.dropped({0xABC, n}), KeptResults::Dropped::kEvicted);
  EXPECT_NE(kept.find({0xABC, n + 1}), nullptr);
}

TEST(ResultWaiters, AQueryComesOutWhenItsTaskEndsOrAtItsDeadline) {
  ResultWaiters w;
  const TaskId a{1, 1}, b{1, 2};
  EXPECT_TRUE(w.hold({"p1", 7, a, kStart + 10s}));
  EXPECT_TRUE(w.hold({"p2", 8, a, kStart + 20s}));
  EXPECT_TRUE(w.hold({"p1", 9, b, kStart + 5s}));
  EXPECT_TRUE(w.expired(kStart + 4s).empty());
  std::vector<HeldQuery> late = w.expired(kStart + 5s);
  ASSERT_EQ(late.size(), 1u);
  EXPECT_EQ(late[0].request, 9u);
  std::vector<HeldQuery> ended = w.take(a);
  ASSERT_EQ(ended.size(), 2u);
  EXPECT_TRUE(w.empty());
  EXPECT_TRUE(w.expired(kStart + 1h).empty());
  EXPECT_TRUE(w.take(a).empty());
}

TEST(ResultWaiters, APeerThatLeftHasItsQueriesDropped) {
  ResultWaiters w;
  w.hold({"p1", 1, {1, 1}, kStart + 10s});
  w.hold({"p2", 2, {1, 1}, kStart + 10s});
  w.drop_peer("p1");
  std::vector<HeldQuery> left = w.take({1, 1});
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].peer, "p2");
}

TEST(ResultWaiters, NoMoreThanTheBoundAreHeld) {
  ResultWaiters w;
  for (std::size_t i = 0; i < ResultWaiters::kMaxHeld; ++i)
    ASSERT_TRUE(w.hold({"p", i, {1, i}, kStart + 10s}));
  EXPECT_FALSE(w.hold({"p", 0, {2, 2}, kStart + 10s}));
  EXPECT_EQ(w.size(), ResultWaiters::kMaxHeld);
  EXPECT_EQ(w.expired(kStart + 10s).size(), ResultWaiters::kMaxHeld);
  EXPECT_TRUE(w.hold({"p", 0, {2, 2}, kStart + 10s}));
}

}  // namespace
}  // namespace uni::manager
