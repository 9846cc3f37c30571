// Proves that the protocol decoder survives hostile input: mutated and truncated frames either
// decode or throw DecodeError (nothing else, no crash), and memory stays proportional to a frame.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "proto/messages.hpp"

namespace {

using namespace uni::proto;
using uni::ModuleHash;

// One valid frame of every message type, with non-trivial content.
std::vector<std::string> valid_frames() {
  std::vector<std::string> frames;
  Hello boss;
  boss.role = "boss";
  boss.session = 77;
  frames.push_back(encode_hello(boss));
  Hello worker;
  worker.role = "worker";
  worker.worker_id = "w-1";
  worker.host = "h";
  worker.pid = 3;
  worker.slots = 2;
  worker.capacity = 3;
  worker.platform = "p";
  worker.isolation = "thread";
  worker.running.push_back(RunningTask{{1, 2}, ModuleHash::of("m"), "fn", 1, 2, 0x1234});
  frames.push_back(encode_hello(worker));
  frames.push_back(encode_welcome(Welcome{"mgr", "0.1.0", 1000, 1 << 20, 1 << 19}));
  frames.push_back(encode_error("malformed", "bad"));
  frames.push_back(encode_heartbeat());
  std::vector<Task> tasks(3);
  for (std::size_t i = 0; i < tasks.size(); ++i) {
    tasks[i].id = {5, i};
    tasks[i].module = ModuleHash::of(std::to_string(i));
    tasks[i].function = "f";
    tasks[i].args = "\x91\x01";
  }
  std::vector<const Task*> task_ptrs{&tasks[0], &tasks[1], &tasks[2]};
  frames.push_back(encode_submit(task_ptrs));
  frames.push_back(encode_tasks(task_ptrs));
  frames.push_back(encode_need_module(ModuleHash::of("x")));
  frames.push_back(encode_put_module(ModuleHash::of("x"), "plat", "bytes"));
  Result r1{{1, 1}, Status::kOk, "\x01", "w", "h", 9, 1};
  Result r2{{1, 2}, Status::kException, "boom", "", "", 0, 2};
  frames.push_back(encode_results({&r1, &r2}));
  frames.push_back(encode_ack({{1, 1}, {2, 2}}));
  frames.push_back(encode_cancel({{3, 3}}));
  frames.push_back(encode_cancel_reply({{{1, 1}, "cancelled"}, {{1, 2}, "done"}}));
  frames.push_back(encode_status_request());
  frames.push_back(encode_status_reply("\x82\xa1q\x01\xa1w\x90"));
  frames.push_back(encode_fetch_module(ModuleHash::of("y")));
  std::string bytes = "module bytes";
  frames.push_back(encode_module(ModuleHash::of("y"), &bytes, ""));
  frames.push_back(encode_module(ModuleHash::of("y"), nullptr, "gone"));
  frames.push_back(encode_credit(4));
  frames.push_back(encode_notice("note"));
  frames.push_back(encode_bye("bye"));
  return frames;
}

// Parses and calls every accessor. Anything but success or DecodeError fails the test.
void decode_everything(std::string_view frame, const std::string& label) {
  // An exact-size heap copy, so that a sanitizer build catches any read past the end.
  std::unique_ptr<char[]> copy(new char[frame.size() + 1]);
  std::memcpy(copy.get(), frame.data(), frame.size());
  try {
    Message m = Message::parse(copy.get(), frame.size());
    const std::vector<std::function<void()>> accessors{
        [&] { m.hello(); },        [&] { m.welcome(); },     [&] { m.error(); },
        [&] { m.tasks(); },        [&] { m.module_hash(); }, [&] { m.module_upload(); },
        [&] { m.results(); },      [&] { m.task_ids(); },    [&] { m.cancel_outcomes(); },
        [&] { m.module_reply(); }, [&] { m.credit(); },      [&] { m.text(); },
        [&] { m.field(0); },       [&] { m.field(1); },      [&] { m.field(1000); },
    };
    for (const auto& access : accessors) {
      try {
        access();
      } catch (const DecodeError&) {
      } catch (const std::exception& e) {
        ADD_FAILURE() << label << ": accessor threw a non-DecodeError: " << e.what();
      } catch (...) {
        ADD_FAILURE() << label << ": accessor threw a non-exception";
      }
    }
  } catch (const DecodeError&) {
  } catch (const std::exception& e) {
    ADD_FAILURE() << label << ": parse threw a non-DecodeError: " << e.what();
  } catch (...) {
    ADD_FAILURE() << label << ": parse threw a non-exception";
  }
}

TEST(DecoderRobustness, ValidFramesDecode) {
  for (const std::string& frame : valid_frames()) decode_everything(frame, "valid");
}

TEST(DecoderRobustness, EveryTruncationOfEveryFrame) {
  for (const std::string& frame : valid_frames())
    for (std::size_t n = 0; n < frame.size(); ++n)
      decode_everything(std::string_view(frame).substr(0, n), "truncated");
}

TEST(DecoderRobustness, RandomMutations) {
  std::mt19937_64 rng(20261125);
  const std::vector<std::string> frames = valid_frames();
  const char interesting[] = {'\x00', '\x01', '\x7f', '\x80', '\x90', '\xc0',
                              '\xc1', '\xc4', '\xcc', '\xcf', '\xd0', '\xd9',
                              '\xdb', '\xdc', '\xdd', '\xde', '\xdf', '\xff'};
  for (int round = 0; round < 20000; ++round) {
    std::string frame = frames[rng() % frames.size()];
    int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits && !frame.empty(); ++e) {
      std::size_t at = rng() % frame.size();
      switch (rng() % 6) {
        case 0: frame[at] = static_cast<char>(rng()); break;
        case 1: frame[at] ^= static_cast<char>(1u << (rng() % 8)); break;
        case 2: frame[at] = interesting[rng() % sizeof(interesting)]; break;
        case 3: frame.resize(at); break;
        case 4: frame.insert(at, 1, interesting[rng() % sizeof(interesting)]); break;
        case 5: frame.erase(at, 1 + rng() % 4); break;
      }
    }
    decode_everything(frame, "mutation round " + std::to_string(round));
    if (HasFailure()) break;
  }
}

TEST(DecoderRobustness, RandomBytes) {
  std::mt19937_64 rng(7);
  for (int round = 0; round < 5000; ++round) {
    std::string frame(rng() % 64, '\0');
    for (char& c : frame) c = static_cast<char>(rng());
    if (!frame.empty() && rng() % 2) frame[0] = static_cast<char>(0x92 + rng() % 6);
    decode_everything(frame, "random round " + std::to_string(round));
    if (HasFailure()) break;
  }
}

// ---- memory bound -------------------------------------------------------------------------

std::uint64_t address_space_in_use() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmSize:", 0) == 0) return std::stoull(line.substr(7)) * 1024;
  return 0;
}

// Runs `work` in a child whose address space may grow by at most `budget` bytes. The child
// exits 0 if work() returned true, 1 if false, 2 if it ran out of memory (std::bad_alloc).
int run_with_memory_budget(std::uint64_t budget, const std::function<bool()>& work) {
  pid_t pid = ::fork();
  if (pid == 0) {
    rlimit limit{};
    limit.rlim_cur = limit.rlim_max = address_space_in_use() + budget;
    ::setrlimit(RLIMIT_AS, &limit);
    int code = 3;
    try {
      code = work() ? 0 : 1;
    } catch (const std::bad_alloc&) {
      code = 2;
    } catch (...) {
      code = 3;
    }
    ::_exit(code);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// True if parse + accessor fail with a DecodeError that is not about memory.
bool fails_cleanly(const std::string& frame, const std::function<void(const Message&)>& access) {
  try {
    Message m = Message::parse(frame.data(), frame.size());
    access(m);
    return false;
  } catch (const DecodeError& e) {
    return std::string(e.what()).find("bad_alloc") == std::string::npos;
  }
}

// AddressSanitizer reserves and maps memory its own way and aborts rather than fail an
// allocation, so address-space budgets are measured in plain builds only.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif

class DecoderMemory : public ::testing::Test {
 protected:
  void SetUp() override {
    if (kSanitized) GTEST_SKIP() << "address-space limits do not mix with AddressSanitizer";
  }
};

constexpr std::uint64_t kFrameSize = 1 << 20;
constexpr std::uint64_t kBudget = 256ull << 20;  // 256x the frame

TEST_F(DecoderMemory, SanityCheckOfTheBudgetHarness) {
  EXPECT_EQ(run_with_memory_budget(kBudget, [] { return true; }), 0);
  EXPECT_EQ(run_with_memory_budget(kBudget,
                                   [] {
                                     std::vector<char> big(2 * kBudget);
                                     return big.size() == 0;
                                   }),
            2);
}

// 32 nested map32 headers, each claiming as many pairs as the frame has bytes, then padding:
// msgpack-cxx reserves every claimed map before it finds that the bytes are missing.
TEST_F(DecoderMemory, NestedHugeClaimsInAOneMegabyteFrameStayWithinBudget) {
  std::string frame("\x93\x12\x01", 3);
  const std::uint32_t claim = static_cast<std::uint32_t>(kFrameSize - 1);
  for (int depth = 0; depth < 30; ++depth) {
    frame += '\xdf';
    for (int shift = 24; shift >= 0; shift -= 8) frame += static_cast<char>(claim >> shift);
    frame += '\x01';  // the first key of this map; its value is the next map
  }
  frame.resize(kFrameSize, '\xc0');
  int code = run_with_memory_budget(
      kBudget, [&] { return fails_cleanly(frame, [](const Message& m) { m.text(); }); });
  EXPECT_EQ(code, 0) << "exit 1: the frame was accepted or the error spoke of bad_alloc; "
                        "exit 2: std::bad_alloc escaped. A 1 MiB frame needed more than "
                     << (kBudget >> 20) << " MiB of address space to be rejected";
}

// A SUBMIT whose task list holds a million nils: rejected at the first element, and the
// accessor must not reserve room for a million tasks first.
TEST_F(DecoderMemory, LongListOfGarbageTasksStaysWithinBudget) {
  std::string frame("\x93\x05\x01\xdd", 4);
  const std::uint32_t count = static_cast<std::uint32_t>(kFrameSize - 8);
  for (int shift = 24; shift >= 0; shift -= 8) frame += static_cast<char>(count >> shift);
  frame.resize(8 + count, '\xc0');
  int code = run_with_memory_budget(kBudget / 4, [&] {
    return fails_cleanly(frame, [](const Message& m) { m.tasks(); }) &&
           fails_cleanly(frame, [](const Message& m) { m.results(); });
  });
  EXPECT_EQ(code, 0) << "a 1 MiB frame of nils needed more than " << (kBudget >> 22)
                     << " MiB of address space to be rejected (exit " << code << ")";
}

}  // namespace
