// Proves src/worker/channel.hpp: length-prefixed frames survive any split into reads, several
// frames in one read come out in order, a bad length is an error, and the writers report EOF.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <deque>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/unique_fd.hpp"
#include "worker/channel.hpp"

namespace {

using uni::UniqueFd;
using uni::worker::append_frame;
using uni::worker::FrameReader;
using uni::worker::kMaxFrame;
using uni::worker::write_all;
using uni::worker::write_some;

struct SocketPair {
  UniqueFd a, b;
  SocketPair() {
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0)
      throw std::runtime_error("socketpair");
    a.reset(fds[0]);
    b.reset(fds[1]);
  }
};

void set_nonblocking(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK); }

void write_raw(int fd, std::string_view data) { ASSERT_TRUE(write_all(fd, data)); }

std::vector<std::string> read_available(FrameReader& reader) {
  std::vector<std::string> out;
  while (auto frame = reader.next()) out.push_back(*frame);
  return out;
}

TEST(Channel, FrameLayoutIsLittleEndianLengthThenBody) {
  std::string out;
  append_frame(out, "abc");
  EXPECT_EQ(out, std::string("\x03\x00\x00\x00"
                             "abc",
                             7));
  out.clear();
  append_frame(out, std::string(0x010203, 'x'));
  EXPECT_EQ(out.substr(0, 4), std::string("\x03\x02\x01\x00", 4));
  EXPECT_EQ(out.size(), 4u + 0x010203);
  out.clear();
  append_frame(out, "");
  EXPECT_EQ(out, std::string(4, '\0'));
}

TEST(Channel, FrameSplitIntoOneByteReads) {
  SocketPair s;
  set_nonblocking(s.b.get());
  std::string wire;
  append_frame(wire, "first frame");
  append_frame(wire, "");
  append_frame(wire, std::string(300, '\x7f'));
  FrameReader reader;
  std::vector<std::string> frames;
  for (char c : wire) {
    write_raw(s.a.get(), std::string_view(&c, 1));
    ASSERT_TRUE(reader.fill(s.b.get()));
    for (auto& f : read_available(reader)) frames.push_back(f);
  }
  ASSERT_EQ(frames.size(), 3u);
  EXPECT_EQ(frames[0], "first frame");
  EXPECT_EQ(frames[1], "");
  EXPECT_EQ(frames[2], std::string(300, '\x7f'));
  EXPECT_EQ(reader.next(), std::nullopt);
}

TEST(Channel, NoFrameUntilItIsComplete) {
  SocketPair s;
  set_nonblocking(s.b.get());
  std::string wire;
  append_frame(wire, "hello");
  FrameReader reader;
  write_raw(s.a.get(), wire.substr(0, 2));  // half a length prefix
  ASSERT_TRUE(reader.fill(s.b.get()));
  EXPECT_EQ(reader.next(), std::nullopt);
  write_raw(s.a.get(), wire.substr(2, 5));  // length and part of the body
  ASSERT_TRUE(reader.fill(s.b.get()));
  EXPECT_EQ(reader.next(), std::nullopt);
  write_raw(s.a.get(), wire.substr(7));
  ASSERT_TRUE(reader.fill(s.b.get()));
  EXPECT_EQ(reader.next(), "hello");
}

TEST(Channel, SeveralFramesInOneRead) {
  SocketPair s;
  std::string wire;
  for (int i = 0; i < 50; ++i) append_frame(wire, "frame " + std::to_string(i));
  write_raw(s.a.get(), wire);
  FrameReader reader;
  ASSERT_TRUE(reader.fill(s.b.get()));  // blocking fd: one read takes everything
  std::vector<std::string> frames = read_available(reader);
  ASSERT_EQ(frames.size(), 50u);
  for (int i = 0; i < 50; ++i) EXPECT_EQ(frames[i], "frame " + std::to_string(i));
}

TEST(Channel, LargeFramesAcrossManyReads) {
  SocketPair s;
  set_nonblocking(s.a.get());
  set_nonblocking(s.b.get());
  std::string big(3 << 20, '\0');
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 131 + 7);
  std::string pending;
  for (int i = 0; i < 3; ++i) append_frame(pending, big + std::to_string(i));
  FrameReader reader;
  std::vector<std::string> frames;
  int idle = 0;
  while (frames.size() < 3 && idle < 100000) {
    ASSERT_TRUE(write_some(s.a.get(), pending));
    ASSERT_TRUE(reader.fill(s.b.get()));
    std::size_t before = frames.size();
    for (auto& f : read_available(reader)) frames.push_back(std::move(f));
    idle = frames.size() == before ? idle + 1 : 0;
  }
  ASSERT_EQ(frames.size(), 3u);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(frames[i] == big + std::to_string(i)) << "frame " << i;
  EXPECT_TRUE(pending.empty());
}

TEST(Channel, BadLengthIsAnError) {
  SocketPair s;
  write_raw(s.a.get(), std::string("\xff\xff\xff\xff"
                                   "garbage",
                                   11));
  FrameReader reader;
  ASSERT_TRUE(reader.fill(s.b.get()));
  try {
    reader.next();
    FAIL() << "no error for a frame of 4 GiB";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("4294967295"), std::string::npos) << e.what();
  }
}

TEST(Channel, LengthJustOverTheLimitIsAnError) {
  SocketPair s;
  std::uint32_t n = kMaxFrame + 1;
  char prefix[4];
  std::memcpy(prefix, &n, 4);  // the test machine is little-endian, like the wire
  write_raw(s.a.get(), std::string_view(prefix, 4));
  FrameReader reader;
  ASSERT_TRUE(reader.fill(s.b.get()));
  EXPECT_THROW(reader.next(), std::runtime_error);
}

TEST(Channel, EndOfStream) {
  SocketPair s;
  std::string wire;
  append_frame(wire, "last");
  write_raw(s.a.get(), wire);
  s.a.reset();
  FrameReader reader;
  ASSERT_TRUE(reader.fill(s.b.get()));
  EXPECT_EQ(reader.next(), "last");
  EXPECT_FALSE(reader.fill(s.b.get()));
}

TEST(Channel, NonBlockingFillWithNothingToRead) {
  SocketPair s;
  set_nonblocking(s.b.get());
  FrameReader reader;
  EXPECT_TRUE(reader.fill(s.b.get()));  // EAGAIN is not an error
  EXPECT_EQ(reader.next(), std::nullopt);
}

TEST(Channel, WritersReportAGonePeer) {
  SocketPair s;
  s.b.reset();
  EXPECT_FALSE(write_all(s.a.get(), "data"));  // EPIPE, without SIGPIPE
  std::string pending = "more";
  set_nonblocking(s.a.get());
  EXPECT_FALSE(write_some(s.a.get(), pending));
}

TEST(Channel, WriteSomeKeepsWhatDidNotFit) {
  SocketPair s;
  set_nonblocking(s.a.get());
  std::string pending(8 << 20, 'x');
  ASSERT_TRUE(write_some(s.a.get(), pending));
  EXPECT_FALSE(pending.empty()) << "a socket buffer took 8 MiB at once";
  EXPECT_LT(pending.size(), std::size_t{8} << 20);
}

TEST(Channel, ManySmallFramesOverALongStream) {
  // More than 1 MiB passes through one reader, so it compacts its buffer on the way.
  SocketPair s;
  set_nonblocking(s.a.get());
  set_nonblocking(s.b.get());
  std::string pending;
  const int count = 40000;
  for (int i = 0; i < count; ++i) append_frame(pending, "message number " + std::to_string(i));
  FrameReader reader;
  int received = 0;
  int idle = 0;
  while (received < count && idle < 100000) {
    ASSERT_TRUE(write_some(s.a.get(), pending));
    ASSERT_TRUE(reader.fill(s.b.get()));
    int before = received;
    while (auto f = reader.next()) {
      ASSERT_EQ(*f, "message number " + std::to_string(received));
      ++received;
    }
    idle = received == before ? idle + 1 : 0;
  }
  EXPECT_EQ(received, count);
}

// ---- descriptors with frames (LOAD) -----------------------------------------------

// The inode behind a descriptor, to tell which file arrived.
ino_t inode_of(int fd) {
  struct stat st {};
  ::fstat(fd, &st);
  return st.st_ino;
}

TEST(ChannelDescriptors, EachDescriptorArrivesWithItsFrameInOrder) {
  SocketPair s;
  set_nonblocking(s.a.get());
  UniqueFd first(::memfd_create("first", MFD_CLOEXEC)),
      second(::memfd_create("second", MFD_CLOEXEC));
  std::string pending;
  std::deque<uni::worker::OutgoingFd> fds;
  append_frame(pending, "plain");
  fds.push_back({pending.size(), UniqueFd(::dup(first.get()))});
  append_frame(pending, "with first");
  append_frame(pending, "plain again");
  fds.push_back({pending.size(), UniqueFd(::dup(second.get()))});
  append_frame(pending, "with second");
  ASSERT_TRUE(write_some(s.a.get(), pending, fds));
  EXPECT_TRUE(pending.empty());
  EXPECT_TRUE(fds.empty());

  FrameReader reader(/*receive_fds=*/true);
  std::vector<std::string> frames;
  while (frames.size() < 4) {
    ASSERT_TRUE(reader.fill(s.b.get(), true));
    for (auto& f : read_available(reader)) frames.push_back(f);
  }
  EXPECT_EQ(frames,
            (std::vector<std::string>{"plain", "with first", "plain again", "with second"}));
  UniqueFd got_first = reader.take_fd(), got_second = reader.take_fd();
  ASSERT_TRUE(got_first && got_second);
  EXPECT_EQ(inode_of(got_first.get()), inode_of(first.get()));
  EXPECT_EQ(inode_of(got_second.get()), inode_of(second.get()));
  EXPECT_FALSE(reader.take_fd());
  // Received close-on-exec: a program a task runs does not inherit them.
  EXPECT_TRUE(::fcntl(got_first.get(), F_GETFD) & FD_CLOEXEC);
}

TEST(ChannelDescriptors, AReaderThatTakesNoneLeavesNoneOpen) {
  SocketPair s;
  UniqueFd file(::memfd_create("sent", MFD_CLOEXEC));
  std::string pending;
  std::deque<uni::worker::OutgoingFd> fds;
  fds.push_back({0, UniqueFd(::dup(file.get()))});
  append_frame(pending, "x");
  ASSERT_TRUE(write_some(s.a.get(), pending, fds));
  FrameReader reader;  // the supervisor's, reading an executor: takes no descriptor
  ASSERT_TRUE(reader.fill(s.b.get(), true));
  EXPECT_EQ(read_available(reader), std::vector<std::string>{"x"});
  EXPECT_FALSE(reader.take_fd());
}

}  // namespace
