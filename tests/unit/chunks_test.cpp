// CHUNK frames and their reassembly: a message over a frame is cut into
// pieces that read back to it byte for byte; malformed CHUNKs are told from
// other messages; the manager's assembler keeps at most --max-message of one
// message (counting, not keeping, what comes after), at most its budget of
// all runs, drops a run another message interrupts or that goes silent, and
// a refused upload's hash is read from its first bytes.
#include <gtest/gtest.h>

#include "manager/chunk_assembler.hpp"
#include "proto/chunks.hpp"
#include "proto/messages.hpp"

namespace uni {
namespace {

using manager::ChunkAssembler;
using manager::Clock;
using proto::Chunk;
using proto::ChunkParse;

std::vector<std::string> frames_of(const std::string& message) {
  std::vector<std::string> frames;
  EXPECT_TRUE(proto::send_in_frames(message, [&](std::string_view f) {
    frames.emplace_back(f);
    return true;
  }));
  return frames;
}

TEST(Chunks, ASmallMessageIsOneFrameAndALargeOneComesBackWhole) {
  std::string small(proto::kMaxFrameBytes, 's');
  EXPECT_EQ(frames_of(small), std::vector<std::string>{small});
  std::string large(3 * proto::kMaxFrameBytes + 17, '\0');
  for (std::size_t i = 0; i < large.size(); ++i) large[i] = static_cast<char>(i * 7);
  std::vector<std::string> frames = frames_of(large);
  ASSERT_EQ(frames.size(), 4u);
  std::string back;
  for (std::size_t i = 0; i < frames.size(); ++i) {
    EXPECT_LE(frames[i].size(), proto::kMaxFrameBytes);
    Chunk c;
    ASSERT_EQ(proto::parse_chunk(frames[i], c), ChunkParse::kChunk);
    EXPECT_EQ(c.more, i + 1 < frames.size());
    back.append(c.piece);
  }
  EXPECT_EQ(back, large);
}

TEST(Chunks, EveryHeaderSizeReadsBack) {
  for (std::size_t n : {0u, 1u, 255u, 256u, 65535u, 65536u, 100000u}) {
    std::string frame = proto::encode_chunk(true, std::string(n, 'p'));
    Chunk c;
    ASSERT_EQ(proto::parse_chunk(frame, c), ChunkParse::kChunk) << n;
    EXPECT_EQ(c.piece.size(), n);
    EXPECT_TRUE(c.more);
  }
}

TEST(Chunks, OtherMessagesAreNotChunksAndBrokenChunksAreMalformed) {
  Chunk c;
  EXPECT_EQ(proto::parse_chunk(proto::encode_heartbeat(), c), ChunkParse::kNotAChunk);
  EXPECT_EQ(proto::parse_chunk("", c), ChunkParse::kNotAChunk);
  EXPECT_EQ(proto::parse_chunk("\xc1 junk", c), ChunkParse::kNotAChunk);
  std::string good = proto::encode_chunk(false, "piece");
  EXPECT_EQ(proto::parse_chunk(good + "x", c), ChunkParse::kMalformed);         // trailing byte
  EXPECT_EQ(proto::parse_chunk(good.substr(0, 8), c), ChunkParse::kMalformed);  // cut short
  std::string other_version = good;
  other_version[2] = 2;
  EXPECT_EQ(proto::parse_chunk(other_version, c), ChunkParse::kMalformed);
  std::string not_bool = good;
  not_bool[3] = 0x01;
  EXPECT_EQ(proto::parse_chunk(not_bool, c), ChunkParse::kMalformed);
  EXPECT_EQ(proto::parse_chunk("\x93\x19\x01", c), ChunkParse::kMalformed);  // three fields
}

TEST(Chunks, AnUploadsHashReadsFromItsFirstBytes) {
  ModuleHash hash = ModuleHash::of("module");
  std::string put = proto::encode_put_module(hash, "platform", std::string(100, 'b'));
  ASSERT_TRUE(proto::put_module_hash(put.substr(0, 64)));
  EXPECT_EQ(*proto::put_module_hash(put.substr(0, 64)), hash);
  EXPECT_FALSE(proto::put_module_hash(put.substr(0, 20)));
  EXPECT_FALSE(proto::put_module_hash(proto::encode_heartbeat()));
}

ChunkAssembler::Step feed(ChunkAssembler& a, const std::string& peer, const std::string& message,
                          Clock::time_point now = Clock::now()) {
  ChunkAssembler::Step last;
  for (const std::string& f : frames_of(message)) {
    Chunk c;
    EXPECT_EQ(proto::parse_chunk(f, c), ChunkParse::kChunk);
    last = a.add(peer, c, now);
  }
  return last;
}

TEST(ChunkAssembler, AWholeRunGivesTheMessage) {
  ChunkAssembler a(1 << 20, 4 << 20);
  std::string message(200'000, 'm');
  ChunkAssembler::Step step = feed(a, "p", message);
  EXPECT_EQ(step.outcome, ChunkAssembler::Outcome::kComplete);
  EXPECT_EQ(step.message, message);
  EXPECT_TRUE(a.empty());
  EXPECT_EQ(a.bytes(), 0u);
}

TEST(ChunkAssembler, AMessageOverTheLimitIsCountedNotKept) {
  ChunkAssembler a(100'000, 4 << 20);
  std::vector<std::string> frames = frames_of(std::string(1'000'000, 'x'));
  ChunkAssembler::Step step;
  for (const std::string& f : frames) {
    Chunk c;
    proto::parse_chunk(f, c);
    step = a.add("p", c, Clock::now());
    EXPECT_LE(a.bytes(), 100'000u);  // never more than the limit held
  }
  EXPECT_EQ(step.outcome, ChunkAssembler::Outcome::kTooLarge);
  EXPECT_EQ(step.size, 1'000'000u);
  EXPECT_EQ(step.head, std::string(64, 'x'));
  EXPECT_EQ(a.bytes(), 0u);
}

TEST(ChunkAssembler, RunsTogetherStayWithinTheBudget) {
  ChunkAssembler a(1 << 20, 300'000);
  std::vector<std::string> first = frames_of(std::string(250'000, 'a'));
  std::vector<std::string> second = frames_of(std::string(250'000, 'b'));
  Chunk c;
  // The first run's pieces but its last, then the second run whole: it does not fit.
  for (std::size_t i = 0; i + 1 < first.size(); ++i) {
    proto::parse_chunk(first[i], c);
    a.add("one", c, Clock::now());
  }
  ChunkAssembler::Step step = feed(a, "two", std::string(250'000, 'b'));
  EXPECT_EQ(step.outcome, ChunkAssembler::Outcome::kBusy);
  proto::parse_chunk(first.back(), c);
  EXPECT_EQ(a.add("one", c, Clock::now()).outcome, ChunkAssembler::Outcome::kComplete);
  EXPECT_EQ(a.bytes(), 0u);
}

TEST(ChunkAssembler, AnInterruptedOrSilentRunIsDropped) {
  ChunkAssembler a(1 << 20, 4 << 20);
  std::vector<std::string> frames = frames_of(std::string(200'000, 'a'));
  Chunk c;
  proto::parse_chunk(frames[0], c);
  Clock::time_point t0 = Clock::now();
  a.add("p", c, t0);
  a.add("q", c, t0);
  EXPECT_EQ(a.runs(), 2u);
  a.interrupted("p");
  EXPECT_EQ(a.runs(), 1u);
  EXPECT_EQ(a.expire(t0 + std::chrono::seconds(1), std::chrono::seconds(30)), 0u);
  EXPECT_EQ(a.expire(t0 + std::chrono::seconds(31), std::chrono::seconds(30)), 1u);
  EXPECT_TRUE(a.empty());
  EXPECT_EQ(a.bytes(), 0u);
}

}  // namespace
}  // namespace uni
