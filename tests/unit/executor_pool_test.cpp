// Proves src/worker/executor_pool.hpp driven alone, as the supervisor drives
// it, with real `uni executor` processes: when an executor dies, the task it
// was running is charged, whatever killed it (a task that closed the channel
// and returned included), and the rest of its pipeline goes back uncharged
// (those behind it, and those before it whose results had not gone out yet); executors are replaced
// after --max-tasks-per-executor tasks and after an out-of-memory failure, losing nothing.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <msgpack.hpp>
#include <string>
#include <thread>
#include <vector>

#include "worker/executor_pool.hpp"

namespace {

using namespace std::chrono_literals;
using uni::proto::Status;
namespace w = uni::worker;

std::string module_path(const std::string& name) {
  return std::string(UNI_MODULE_DIR) + "/lib" + name + ".so";
}

// The options with this build's `uni` as the executor program (a test binary
// is not one).
w::ExecutorPoolOptions with_uni(w::ExecutorPoolOptions options) {
  options.program = std::string(UNI_BIN_DIR) + "/uni";
  return options;
}

// An ExecutorPool and the poll loop the supervisor would run around it.
class PoolDriver {
 public:
  explicit PoolDriver(w::ExecutorPoolOptions options, unsigned depth = 1)
      : pool_(with_uni(std::move(options))) {
    pool_.set_pipeline_depth(depth);
  }

  // Hands fn(args...) over under the next tag; returns the tag.
  template <typename... Args>
  std::uint64_t start(const std::string& module, const std::string& fn, Args... args) {
    msgpack::sbuffer packed;
    msgpack::pack(packed, std::make_tuple(args...));
    w::RunRequest request{
        next_tag_, module_path(module), fn, std::string(packed.data(), packed.size()), {}, false};
    // An executor may still be starting (or being replaced).
    auto deadline = std::chrono::steady_clock::now() + 20s;
    while (!pool_.start(request)) {
      if (std::chrono::steady_clock::now() > deadline) {
        ADD_FAILURE() << "no executor took task " << next_tag_;
        break;
      }
      turn();
    }
    EXPECT_TRUE(done_.count(next_tag_) == 0);
    return next_tag_++;
  }

  // Drives the pool until `tag` has completed (or 30 s passed).
  const w::Completion& wait(std::uint64_t tag) {
    auto deadline = std::chrono::steady_clock::now() + 30s;
    while (!done_.count(tag) && std::chrono::steady_clock::now() < deadline) turn();
    if (!done_.count(tag)) {
      ADD_FAILURE() << "task " << tag << " did not complete";
      done_[tag].status = Status::kRejected;
    }
    return done_[tag];
  }

  std::size_t executing() const { return pool_.executing(); }

 private:
  void turn() {
    std::vector<uni::broker::PollItem> items;
    pool_.add_poll_items(items);
    uni::broker::poll_descriptors(items.data(), items.size(), std::chrono::milliseconds(20));
    std::vector<w::Completion> finished;
    pool_.service(items.data(), finished);
    for (auto& c : finished) done_[c.tag] = std::move(c);
  }

  w::ExecutorPool pool_;
  std::uint64_t next_tag_ = 1;
  std::map<std::uint64_t, w::Completion> done_;
};

// A task handed over before the culprit either delivered its result or,
// finished with its result still in the executor's batch, goes back.
void expect_not_charged(const w::Completion& c) {
  EXPECT_TRUE(c.status == Status::kOk || c.status == Status::kHandedBack)
      << static_cast<int>(c.status) << " " << c.payload;
  EXPECT_FALSE(c.died.has_value());
}

TEST(ExecutorPool, ATaskThatClosesTheChannelIsChargedAndOnlyIt) {
  PoolDriver pool({.slots = 1}, 4);
  std::string runs = ::testing::TempDir() + "/pool-runs-" + std::to_string(::getpid());
  std::uint64_t before = pool.start("testfns", "add", 1, 2);
  std::uint64_t culprit = pool.start("faults", "close_descriptors", runs, 7);
  std::uint64_t behind1 = pool.start("testfns", "add", 3, 4);
  std::uint64_t behind2 = pool.start("testfns", "add", 5, 6);
  expect_not_charged(pool.wait(before));
  const w::Completion& c = pool.wait(culprit);
  EXPECT_EQ(c.status, Status::kCrashed);
  EXPECT_TRUE(c.died.has_value());
  EXPECT_NE(c.cause.find("lost its channel"), std::string::npos) << c.cause;
  EXPECT_EQ(c.cause.find("SIGSEGV"), std::string::npos) << c.cause;
  EXPECT_EQ(pool.wait(behind1).status, Status::kHandedBack);
  EXPECT_EQ(pool.wait(behind2).status, Status::kHandedBack);
  // A fresh executor serves.
  EXPECT_EQ(pool.wait(pool.start("testfns", "add", 1, 1)).status, Status::kOk);
  std::remove(runs.c_str());
}

TEST(ExecutorPool, ACrashIsChargedToTheRunningTaskOnly) {
  PoolDriver pool({.slots = 1}, 4);
  std::uint64_t before = pool.start("testfns", "add", 1, 2);
  std::uint64_t culprit = pool.start("faults", "segfault", 1);
  std::uint64_t behind = pool.start("testfns", "add", 3, 4);
  expect_not_charged(pool.wait(before));
  const w::Completion& c = pool.wait(culprit);
  EXPECT_EQ(c.status, Status::kCrashed);
  EXPECT_EQ(c.cause, "executor killed by SIGSEGV");
  EXPECT_EQ(pool.wait(behind).status, Status::kHandedBack);
}

// An executor is a busy slot while it holds a task, not only while it is
// inside one: an executor running short tasks back to back spends most of
// its time between them (results out, the next one read), and counting only
// those inside a task showed 0 or 1 busy slots of 2 executors at 100 % CPU.
// Here the state between two tasks is held still: each executor has run its
// task, and the supervisor has not yet read the result.
TEST(ExecutorPool, AnExecutorHoldingATaskIsBusyBetweenTasks) {
  PoolDriver pool({.slots = 2});
  // Both executors up (started at once from here on, with no turn of the loop).
  std::uint64_t warm1 = pool.start("testfns", "add", 0, 0);
  std::uint64_t warm2 = pool.start("testfns", "add", 0, 0);
  pool.wait(warm1);
  pool.wait(warm2);
  EXPECT_EQ(pool.executing(), 0u);
  std::uint64_t first = pool.start("testfns", "add", 1, 2);
  std::uint64_t second = pool.start("testfns", "add", 3, 4);
  std::this_thread::sleep_for(300ms);  // both have run; nobody read the results
  EXPECT_EQ(pool.executing(), 2u);
  EXPECT_EQ(pool.wait(first).status, Status::kOk);
  EXPECT_EQ(pool.wait(second).status, Status::kOk);
  EXPECT_EQ(pool.executing(), 0u);
}

TEST(ExecutorPool, MaxTasksReplacesTheExecutorBetweenTasks) {
  PoolDriver pool({.slots = 1, .max_tasks = 2});
  std::vector<std::uint32_t> pids;
  for (int i = 0; i < 5; ++i) {
    const w::Completion& c = pool.wait(pool.start("testfns", "add", i, 1));
    EXPECT_EQ(c.status, Status::kOk) << c.payload;
    pids.push_back(c.pid);
  }
  EXPECT_EQ(pids[0], pids[1]);
  EXPECT_EQ(pids[2], pids[3]);
  EXPECT_NE(pids[1], pids[2]);
  EXPECT_NE(pids[3], pids[4]);
}

TEST(ExecutorPool, OutOfMemoryHandsBackThePipelineAndReplacesTheExecutor) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "address-space limits do not mix with AddressSanitizer";
#endif
  PoolDriver pool({.slots = 1, .mem_limit = 256ull << 20}, 4);
  std::uint64_t leak = pool.start("faults", "leak_until_oom");
  std::uint64_t behind = pool.start("faults", "allocate", 64);
  const w::Completion& oom = pool.wait(leak);
  EXPECT_EQ(oom.status, Status::kException);
  EXPECT_NE(oom.payload.find("out of memory"), std::string::npos) << oom.payload;
  EXPECT_EQ(pool.wait(behind).status, Status::kHandedBack);
  const w::Completion& next = pool.wait(pool.start("faults", "allocate", 64));
  EXPECT_EQ(next.status, Status::kOk) << next.payload;
  EXPECT_NE(next.pid, oom.pid);
}

}  // namespace
