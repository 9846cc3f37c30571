// Proves src/manager/task_queue.hpp: FIFO within one boss, round-robin across bosses so that a
// burst cannot starve anyone, requeued tasks go first, and platforms never mix.
#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <vector>

#include "manager/task_queue.hpp"

namespace {

using uni::manager::TaskQueue;
using uni::proto::TaskId;

std::vector<TaskId> drain(TaskQueue& q, std::uint16_t platform) {
  std::vector<TaskId> out;
  while (auto id = q.pop(platform)) out.push_back(*id);
  return out;
}

TEST(TaskQueue, EmptyQueue) {
  TaskQueue q;
  EXPECT_TRUE(q.empty(0));
  EXPECT_TRUE(q.empty(7));
  EXPECT_EQ(q.pop(0), std::nullopt);
  EXPECT_EQ(q.pop(65535), std::nullopt);
}

TEST(TaskQueue, FifoForOneBoss) {
  TaskQueue q;
  for (std::uint64_t i = 1; i <= 5; ++i) q.push(0, 10, TaskId{10, i}, false);
  EXPECT_FALSE(q.empty(0));
  EXPECT_EQ(drain(q, 0), (std::vector<TaskId>{{10, 1}, {10, 2}, {10, 3}, {10, 4}, {10, 5}}));
  EXPECT_TRUE(q.empty(0));
}

TEST(TaskQueue, RoundRobinAcrossBosses) {
  TaskQueue q;
  // Boss A submits a burst first; B and C submit a little later.
  for (std::uint64_t i = 1; i <= 4; ++i) q.push(0, 0xA, TaskId{0xA, i}, false);
  q.push(0, 0xB, TaskId{0xB, 1}, false);
  q.push(0, 0xB, TaskId{0xB, 2}, false);
  q.push(0, 0xC, TaskId{0xC, 1}, false);
  EXPECT_EQ(
      drain(q, 0),
      (std::vector<TaskId>{{0xA, 1}, {0xB, 1}, {0xC, 1}, {0xA, 2}, {0xB, 2}, {0xA, 3}, {0xA, 4}}));
}

TEST(TaskQueue, SmallBossIsServedEarlyDespiteABigBurst) {
  TaskQueue q;
  for (std::uint64_t i = 0; i < 100000; ++i) q.push(0, 1, TaskId{1, i}, false);
  for (std::uint64_t i = 0; i < 10; ++i) q.push(0, 2, TaskId{2, i}, false);
  std::size_t popped = 0, small_done = 0;
  while (small_done < 10) {
    auto id = q.pop(0);
    ASSERT_TRUE(id.has_value());
    ++popped;
    if (id->session == 2) ++small_done;
  }
  EXPECT_LE(popped, 20u);
}

TEST(TaskQueue, RequeueGoesToTheFrontOfItsLane) {
  TaskQueue q;
  q.push(0, 1, TaskId{1, 1}, false);
  q.push(0, 1, TaskId{1, 2}, false);
  q.push(0, 1, TaskId{1, 0}, true);  // came back from a dead worker
  EXPECT_EQ(drain(q, 0), (std::vector<TaskId>{{1, 0}, {1, 1}, {1, 2}}));
}

TEST(TaskQueue, RequeueIntoAnEmptyLaneJoinsTheRotation) {
  TaskQueue q;
  q.push(0, 1, TaskId{1, 1}, false);
  q.push(0, 1, TaskId{1, 2}, false);
  q.push(0, 2, TaskId{2, 9}, true);
  EXPECT_EQ(drain(q, 0), (std::vector<TaskId>{{1, 1}, {2, 9}, {1, 2}}));
}

TEST(TaskQueue, PlatformsAreSeparate) {
  TaskQueue q;
  q.push(0, 1, TaskId{1, 1}, false);
  q.push(3, 1, TaskId{1, 2}, false);
  q.push(3, 2, TaskId{2, 1}, false);
  EXPECT_TRUE(q.empty(1));
  EXPECT_TRUE(q.empty(2));
  EXPECT_EQ(q.pop(1), std::nullopt);
  EXPECT_EQ(drain(q, 3), (std::vector<TaskId>{{1, 2}, {2, 1}}));
  EXPECT_FALSE(q.empty(0));
  EXPECT_EQ(drain(q, 0), (std::vector<TaskId>{{1, 1}}));
}

TEST(TaskQueue, InterleavedPushAndPopKeepsEveryTaskExactlyOnce) {
  TaskQueue q;
  std::map<std::uint64_t, std::uint64_t> next_expected;  // per boss: FIFO holds
  std::size_t pushed = 0, popped = 0;
  std::uint64_t seq[4] = {0, 0, 0, 0};
  for (int round = 0; round < 1000; ++round) {
    std::uint64_t boss = static_cast<std::uint64_t>(round * 7 % 4);
    q.push(0, boss, TaskId{boss, seq[boss]++}, false);
    ++pushed;
    if (round % 3 == 0) {
      auto id = q.pop(0);
      ASSERT_TRUE(id.has_value());
      EXPECT_EQ(id->seq, next_expected[id->session]++);
      ++popped;
    }
  }
  for (TaskId id : drain(q, 0)) {
    EXPECT_EQ(id.seq, next_expected[id.session]++);
    ++popped;
  }
  EXPECT_EQ(popped, pushed);
  EXPECT_TRUE(q.empty(0));
}

}  // namespace
