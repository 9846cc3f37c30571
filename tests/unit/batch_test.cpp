// Proves src/proto/batch.hpp: the encoded size of a task or result record is
// exactly what the encoder writes (for every length class of msgpack's
// numbers, strings and binaries), and a Batcher cuts records into messages that
// stay within the limit, in order, losing none, with an oversized record alone.
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "proto/batch.hpp"

namespace {

using namespace uni::proto;

// Lengths and values at the edges of msgpack's encodings.
const std::size_t kLengths[] = {0, 1, 15, 16, 31, 32, 255, 256, 65535, 65536, 70000};
const std::uint64_t kNumbers[] = {
    0, 1, 127, 128, 255, 256, 65535, 65536, 0xffffffffull, 0x100000000ull, ~0ull};

Task task_with(std::size_t function_len, std::size_t args_len, std::uint64_t number) {
  Task t;
  t.id = {number, number / 3};
  t.module = uni::ModuleHash::of("m");
  t.function = std::string(function_len, 'f');
  t.args = std::string(args_len, '\x01');
  t.timeout_ms = static_cast<std::uint32_t>(number);
  t.wait_ms = static_cast<std::uint32_t>(number >> 3);
  t.max_attempts = static_cast<std::uint8_t>(number);
  t.flags = static_cast<std::uint8_t>(number >> 1);
  t.attempt = static_cast<std::uint8_t>(number >> 2);
  return t;
}

Result result_with(std::size_t payload_len, std::size_t text_len, std::uint64_t number) {
  Result r;
  r.id = {number, number + 1};
  r.status = static_cast<Status>(number % 12);
  r.payload = std::string(payload_len, 'p');
  r.worker = std::string(text_len, 'w');
  r.host = std::string(text_len / 2, 'h');
  r.pid = static_cast<std::uint32_t>(number);
  r.attempt = static_cast<std::uint8_t>(number);
  return r;
}

TEST(EncodedSize, OfATaskIsWhatTheEncoderWrites) {
  for (std::size_t function_len : kLengths)
    for (std::size_t args_len : kLengths)
      for (std::uint64_t number : kNumbers) {
        Task t = task_with(function_len, args_len, number);
        std::string one = encode_tasks({&t});
        ASSERT_EQ(list_message_size(1, encoded_size(t)), one.size())
            << "function " << function_len << " args " << args_len << " number " << number;
        ASSERT_EQ(encode_submit({&t}).size(), one.size());
      }
}

TEST(EncodedSize, OfAResultIsWhatTheEncoderWrites) {
  for (std::size_t payload_len : kLengths)
    for (std::size_t text_len : kLengths)
      for (std::uint64_t number : kNumbers) {
        Result r = result_with(payload_len, text_len, number);
        ASSERT_EQ(list_message_size(1, encoded_size(r)), encode_results({&r}).size())
            << "payload " << payload_len << " text " << text_len << " number " << number;
      }
}

TEST(EncodedSize, OfAMessageCountsTheListHeader) {
  // 15 records fit a fixarray header, 16 need three bytes, 65536 five.
  for (std::size_t count : {0, 1, 15, 16, 17, 65535, 65536}) {
    const Task task = task_with(3, 4, 5);
    std::vector<const Task*> pointers(count, &task);
    EXPECT_EQ(list_message_size(count, count * encoded_size(task)), encode_tasks(pointers).size())
        << count << " tasks";
  }
}

TEST(Batcher, CutsAtTheLimitInOrderAndLosesNothing) {
  std::mt19937 random(7);
  std::vector<Result> results;
  for (std::uint64_t i = 0; i < 2000; ++i)
    results.push_back(result_with(random() % 3000, random() % 40, i));
  const std::size_t limit = 64 * 1024;
  std::vector<std::string> messages;
  std::vector<std::uint64_t> seen;
  Batcher<Result> batcher(limit, [&](const std::vector<const Result*>& batch) {
    for (const Result* r : batch) seen.push_back(r->id.session);
    messages.push_back(encode_results(batch));
  });
  for (const Result& r : results) batcher.add(r);
  EXPECT_LT(seen.size(), results.size()) << "the last batch waits for flush()";
  batcher.flush();
  ASSERT_EQ(seen.size(), results.size());
  for (std::size_t i = 0; i < seen.size(); ++i) ASSERT_EQ(seen[i], i);
  ASSERT_GT(messages.size(), 10u);
  for (std::size_t i = 0; i < messages.size(); ++i) {
    EXPECT_LE(messages[i].size(), limit);
    // Each cut was needed: the next record would not have fitted.
    if (i + 1 < messages.size()) {
      Message next = Message::parse(messages[i + 1].data(), messages[i + 1].size());
      Result first_of_next = next.results().front();
      EXPECT_GT(messages[i].size() + encoded_size(first_of_next), limit);
    }
  }
}

TEST(Batcher, SendsARecordLargerThanTheLimitAlone) {
  std::vector<Task> tasks = {task_with(3, 10, 1), task_with(3, 5000, 2), task_with(3, 10, 3)};
  std::vector<std::size_t> sizes;
  Batcher<Task> batcher(
      1000, [&](const std::vector<const Task*>& batch) { sizes.push_back(batch.size()); });
  for (const Task& t : tasks) batcher.add(t);
  batcher.flush();
  EXPECT_EQ(sizes, (std::vector<std::size_t>{1, 1, 1}));
}

TEST(Batcher, KnowsTheSizeOfTheMessageItHolds) {
  std::vector<Task> tasks;
  for (std::uint64_t i = 0; i < 40; ++i) tasks.push_back(task_with(i, i * 7, i * 1000));
  Batcher<Task> batcher(1 << 20, [](const std::vector<const Task*>&) {});
  std::vector<const Task*> held;
  for (const Task& t : tasks) {
    batcher.add(t);
    held.push_back(&t);
    ASSERT_EQ(batcher.message_bytes(), encode_tasks(held).size());
  }
  EXPECT_FALSE(batcher.empty());
  batcher.flush();
  EXPECT_TRUE(batcher.empty());
  batcher.flush();  // nothing held: nothing sent
}

}  // namespace
