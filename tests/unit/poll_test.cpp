// The seam's poll set on descriptors (src/broker/poll.hpp), as the
// supervisor's runners and the NATS links rely on it: readable, writable and
// hung-up descriptors reported in the seam's terms, negative descriptors
// skipped, and revents left from an earlier poll cleared.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>

#include "broker/poll.hpp"
#include "common/unique_fd.hpp"

namespace uni::broker {
namespace {

using namespace std::chrono_literals;

struct Pipe {
  UniqueFd read, write;
  Pipe() {
    int fds[2];
    EXPECT_EQ(::pipe2(fds, O_CLOEXEC | O_NONBLOCK), 0);
    read = UniqueFd(fds[0]);
    write = UniqueFd(fds[1]);
  }
};

TEST(PollDescriptors, ReportsReadableWritableAndHungUpInTheSeamsTerms) {
  UniqueFd signalled(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  std::uint64_t one = 1;
  ASSERT_EQ(::write(signalled.get(), &one, sizeof one), 8);
  UniqueFd quiet(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  Pipe room;
  Pipe closed;
  closed.write = UniqueFd();  // its reader sees the hang-up

  PollItem items[] = {{nullptr, signalled.get(), kPollIn, kPollOut},
                      {nullptr, quiet.get(), kPollIn, kPollIn},
                      {nullptr, room.write.get(), kPollIn | kPollOut, 0},
                      {nullptr, closed.read.get(), kPollIn, 0},
                      {nullptr, -1, kPollIn, kPollIn}};
  poll_descriptors(items, 5, 1000ms);
  EXPECT_EQ(items[0].revents, kPollIn);
  EXPECT_EQ(items[1].revents, 0) << "a stale revents is cleared";
  EXPECT_EQ(items[2].revents, kPollOut);
  EXPECT_TRUE(items[3].revents & kPollErr) << "a hang-up is reported, as zmq_poll did";
  EXPECT_EQ(items[4].revents, 0) << "a negative descriptor is skipped";
}

TEST(PollDescriptors, WaitsOutItsTimeoutWhenNothingIsReady) {
  UniqueFd quiet(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  PollItem item{nullptr, quiet.get(), kPollIn, 0};
  const auto start = std::chrono::steady_clock::now();
  poll_descriptors(&item, 1, 50ms);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 45ms);
  EXPECT_EQ(item.revents, 0);
}

}  // namespace
}  // namespace uni::broker
