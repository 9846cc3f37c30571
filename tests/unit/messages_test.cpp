// Proves src/proto/messages.hpp: every message type survives encode -> parse -> accessor intact,
// task ids print and parse back, and malformed frames give a DecodeError that says what is wrong.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "proto/messages.hpp"
#include "proto/platforms.hpp"

namespace {

using namespace uni::proto;
using uni::ModuleHash;

Message parse(const std::string& frame) { return Message::parse(frame.data(), frame.size()); }

ModuleHash hash_of(const std::string& text) { return ModuleHash::of(text); }

Task make_task(std::uint64_t seq) {
  Task t;
  t.id = {0x0123456789abcdefull, seq};
  t.module = hash_of("module " + std::to_string(seq));
  t.function = "function_" + std::to_string(seq);
  t.args = std::string("\x92\x01\xa1x", 4) + std::string(seq, '\0');
  t.timeout_ms = 1000 + static_cast<std::uint32_t>(seq);
  t.wait_ms = 2000;
  t.max_attempts = 1;
  t.flags = kFlagService | kFlagDetached;
  t.attempt = 2;
  return t;
}

void expect_same_task(const Task& a, const Task& b) {
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.module, b.module);
  EXPECT_EQ(a.function, b.function);
  EXPECT_EQ(a.args, b.args);
  EXPECT_EQ(a.timeout_ms, b.timeout_ms);
  EXPECT_EQ(a.wait_ms, b.wait_ms);
  EXPECT_EQ(a.max_attempts, b.max_attempts);
  EXPECT_EQ(a.flags, b.flags);
  EXPECT_EQ(a.attempt, b.attempt);
}

// Expects parse and then `access` to throw DecodeError whose text contains `fragment`.
template <class Access>
void expect_decode_error(const std::string& frame, Access access, const std::string& fragment) {
  try {
    Message m = parse(frame);
    access(m);
    ADD_FAILURE() << "no DecodeError; expected one mentioning \"" << fragment << "\"";
  } catch (const DecodeError& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos)
        << "message: " << e.what() << "\nexpected to contain: " << fragment;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "threw a non-DecodeError: " << e.what();
  }
}

void expect_parse_error(const std::string& frame, const std::string& fragment) {
  expect_decode_error(
      frame, [](const Message&) {}, fragment);
}

// Builds a frame by hand with the msgpack packer.
class Frame {
 public:
  Frame() : packer_(buffer_) {}
  msgpack::packer<msgpack::sbuffer>& p() { return packer_; }
  Frame& head(Type type, std::uint32_t body_fields) {
    packer_.pack_array(2 + body_fields);
    packer_.pack_uint8(static_cast<std::uint8_t>(type));
    packer_.pack_uint32(kVersion);
    return *this;
  }
  Frame& str(std::string_view s) {
    packer_.pack_str(static_cast<std::uint32_t>(s.size()));
    packer_.pack_str_body(s.data(), static_cast<std::uint32_t>(s.size()));
    return *this;
  }
  Frame& bin(std::string_view s) {
    packer_.pack_bin(static_cast<std::uint32_t>(s.size()));
    packer_.pack_bin_body(s.data(), static_cast<std::uint32_t>(s.size()));
    return *this;
  }
  std::string done() const { return std::string(buffer_.data(), buffer_.size()); }

 private:
  msgpack::sbuffer buffer_;
  msgpack::packer<msgpack::sbuffer> packer_;
};

// ---- task ids ---------------------------------------------------------------------------

TEST(TaskIdText, RoundTrip) {
  TaskId id{0x00000000deadbeefull, 42};
  EXPECT_EQ(id.str(), "00000000deadbeef-42");
  EXPECT_EQ(TaskId::parse(id.str()), id);
  TaskId max{UINT64_MAX, UINT64_MAX};
  EXPECT_EQ(max.str(), "ffffffffffffffff-18446744073709551615");
  EXPECT_EQ(TaskId::parse(max.str()), max);
  TaskId zero{};
  EXPECT_EQ(TaskId::parse(zero.str()), zero);
  EXPECT_EQ(TaskId::parse("abc-7"), (TaskId{0xabc, 7}));
  EXPECT_EQ(TaskId::parse("ABC-7"), (TaskId{0xabc, 7}));
}

TEST(TaskIdText, RejectsMalformed) {
  for (const char* bad : {"", "-", "-1", "abc", "abc-", "xyz-1", "abc-1x", "abc-x", "abc--1",
                          "abc-+1", "abc- 1", " abc-1", "abc-1 ", "00000000000000001-1",
                          "abc-18446744073709551616", "abc-1-2", "0x10-1"}) {
    EXPECT_FALSE(TaskId::parse(bad).has_value()) << "accepted \"" << bad << "\"";
  }
}

TEST(TaskIdText, OrderAndHash) {
  EXPECT_LT((TaskId{1, 5}), (TaskId{2, 0}));
  EXPECT_LT((TaskId{1, 5}), (TaskId{1, 6}));
  TaskIdHash h;
  EXPECT_NE(h(TaskId{1, 1}), h(TaskId{1, 2}));
}

TEST(StatusNames, AreSpelledForPeople) {
  EXPECT_STREQ(status_name(Status::kOk), "ok");
  EXPECT_STREQ(status_name(Status::kBadArguments), "bad-arguments");
  EXPECT_STREQ(status_name(Status::kUnknownFunction), "unknown-function");
  EXPECT_STREQ(status_name(Status::kNoWorker), "no-worker");
  EXPECT_TRUE(is_retryable(Status::kCrashed));
  EXPECT_FALSE(is_retryable(Status::kException));
  EXPECT_STREQ(type_name(Type::kCancelReply), "CANCEL_REPLY");
  EXPECT_STREQ(type_name(Type::kFetchModule), "FETCH_MODULE");
}

// ---- round trips ---------------------------------------------------------------------------

TEST(MessagesRoundTrip, HelloBoss) {
  Hello h;
  h.role = "boss";
  h.session = 0xfedcba9876543210ull;
  Message m = parse(encode_hello(h));
  EXPECT_EQ(m.type(), Type::kHello);
  EXPECT_EQ(m.version(), kVersion);
  Hello out = m.hello();
  EXPECT_EQ(out.role, "boss");
  EXPECT_EQ(out.session, h.session);
}

TEST(MessagesRoundTrip, HelloWorkerWithRunningTasks) {
  Hello h;
  h.role = "worker";
  h.worker_id = "w-1";
  h.host = "node7";
  h.pid = 4321;
  h.slots = 4;
  h.capacity = 6;
  h.platform = "x86_64-linux-libstdc++-cxx11";
  h.isolation = "process";
  for (std::uint64_t i = 0; i < 3; ++i) {
    RunningTask t;
    t.id = {i + 100, i};
    t.module = hash_of("m" + std::to_string(i));
    t.function = "f" + std::to_string(i);
    t.flags = static_cast<std::uint8_t>(i);
    t.attempt = static_cast<std::uint8_t>(i + 1);
    h.running.push_back(t);
  }
  Hello out = parse(encode_hello(h)).hello();
  EXPECT_EQ(out.role, "worker");
  EXPECT_EQ(out.worker_id, "w-1");
  EXPECT_EQ(out.host, "node7");
  EXPECT_EQ(out.pid, 4321u);
  EXPECT_EQ(out.slots, 4u);
  EXPECT_EQ(out.capacity, 6u);
  EXPECT_EQ(out.platform, h.platform);
  EXPECT_EQ(out.isolation, "process");
  ASSERT_EQ(out.running.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(out.running[i].id, h.running[i].id);
    EXPECT_EQ(out.running[i].module, h.running[i].module);
    EXPECT_EQ(out.running[i].function, h.running[i].function);
    EXPECT_EQ(out.running[i].flags, h.running[i].flags);
    EXPECT_EQ(out.running[i].attempt, h.running[i].attempt);
  }
}

TEST(MessagesRoundTrip, HelloWorkerWithPlatformsBesideItsOwn) {
  Hello h;
  h.role = "worker";
  h.worker_id = "w-2";
  h.slots = 1;
  h.platform = "x86_64-linux-libstdc++-cxx11";
  h.also_platforms = {"x86_64-linux-libstdc++-cxx11+python311"};
  Hello out = parse(encode_hello(h)).hello();
  EXPECT_EQ(out.also_platforms, h.also_platforms);
  h.also_platforms.clear();  // an older worker's HELLO has no such key
  EXPECT_TRUE(parse(encode_hello(h)).hello().also_platforms.empty());
  h.also_platforms.assign(9, "p+x");  // more than a worker has any reason to announce
  EXPECT_THROW(parse(encode_hello(h)).hello(), DecodeError);
  h.also_platforms = {""};
  EXPECT_THROW(parse(encode_hello(h)).hello(), DecodeError);
}

TEST(PlatformCapability, FollowsTheLastPlusAndBeginsWithALetter) {
  EXPECT_EQ(platform_capability("x86_64-linux-libstdc++-cxx11+python311"), "python311");
  EXPECT_EQ(platform_capability("x86_64-linux-libstdc++-cxx11"), "");  // libstdc++'s own '+'
  EXPECT_EQ(platform_capability("x86_64-linux-libc++"), "");
  EXPECT_EQ(platform_need("x86_64-linux-libstdc++-cxx11"), "platform x86_64-linux-libstdc++-cxx11");
  EXPECT_NE(platform_need("a-linux-libc+++python311").find("libpython3.11 and python3-cloudpickle"),
            std::string::npos);
}

TEST(MessagesRoundTrip, Welcome) {
  Welcome w;
  w.manager_id = "mgr-abc";
  w.version = "0.1.0";
  w.heartbeat_ms = 250;
  w.max_message = 128ull << 20;
  w.max_module = 5ull << 32;
  Message m = parse(encode_welcome(w));
  EXPECT_EQ(m.type(), Type::kWelcome);
  Welcome out = m.welcome();
  EXPECT_EQ(out.manager_id, w.manager_id);
  EXPECT_EQ(out.version, w.version);
  EXPECT_EQ(out.heartbeat_ms, 250u);
  EXPECT_EQ(out.max_message, w.max_message);
  EXPECT_EQ(out.max_module, w.max_module);
}

TEST(MessagesRoundTrip, Error) {
  Message m = parse(encode_error("version", "this manager speaks version 1"));
  EXPECT_EQ(m.type(), Type::kError);
  ErrorMessage e = m.error();
  EXPECT_EQ(e.code, "version");
  EXPECT_EQ(e.text, "this manager speaks version 1");
}

TEST(MessagesRoundTrip, HeartbeatAndStatusRequestHaveNoBody) {
  Message hb = parse(encode_heartbeat());
  EXPECT_EQ(hb.type(), Type::kHeartbeat);
  EXPECT_THROW(hb.field(0), DecodeError);
  EXPECT_EQ(parse(encode_status_request()).type(), Type::kStatus);
}

TEST(MessagesRoundTrip, SubmitAndTasksWithSeveralTasks) {
  std::vector<Task> tasks{make_task(1), make_task(2), make_task(300)};
  tasks[1].flags = 0;
  tasks[1].timeout_ms = 0;
  tasks[1].max_attempts = 255;
  std::vector<const Task*> ptrs{&tasks[0], &tasks[1], &tasks[2]};
  for (bool submit : {true, false}) {
    Message m = parse(submit ? encode_submit(ptrs) : encode_tasks(ptrs));
    EXPECT_EQ(m.type(), submit ? Type::kSubmit : Type::kTasks);
    std::vector<Task> out = m.tasks();
    ASSERT_EQ(out.size(), tasks.size());
    for (std::size_t i = 0; i < tasks.size(); ++i) expect_same_task(out[i], tasks[i]);
  }
  EXPECT_TRUE(parse(encode_submit({})).tasks().empty());
}

TEST(MessagesRoundTrip, Results) {
  std::vector<Result> results(3);
  results[0].id = {7, 1};
  results[0].status = Status::kOk;
  results[0].payload = std::string("\xcd\x01\x00", 3);
  results[0].worker = "w-1";
  results[0].host = "host-a";
  results[0].pid = 99;
  results[0].attempt = 1;
  results[1].id = {7, 2};
  results[1].status = Status::kException;
  results[1].payload = "factorial(21): n must be between 0 and 20";
  results[1].attempt = 3;
  results[2].id = {8, 1};
  results[2].status = Status::kRejected;
  std::vector<const Result*> ptrs{&results[0], &results[1], &results[2]};
  Message m = parse(encode_results(ptrs));
  EXPECT_EQ(m.type(), Type::kResult);
  std::vector<Result> out = m.results();
  ASSERT_EQ(out.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(out[i].id, results[i].id);
    EXPECT_EQ(out[i].status, results[i].status);
    EXPECT_EQ(out[i].payload, results[i].payload);
    EXPECT_EQ(out[i].worker, results[i].worker);
    EXPECT_EQ(out[i].host, results[i].host);
    EXPECT_EQ(out[i].pid, results[i].pid);
    EXPECT_EQ(out[i].attempt, results[i].attempt);
  }
}

TEST(MessagesRoundTrip, EveryFinalStatus) {
  for (Status s : {Status::kOk, Status::kException, Status::kBadArguments, Status::kUnknownFunction,
                   Status::kModuleError, Status::kCrashed, Status::kTimedOut, Status::kCancelled,
                   Status::kNoWorker, Status::kRejected}) {
    Result r;
    r.id = {1, static_cast<std::uint64_t>(s)};
    r.status = s;
    std::vector<Result> out = parse(encode_results({&r})).results();
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].status, s) << status_name(s);
  }
}

TEST(MessagesRoundTrip, AckAndCancel) {
  std::vector<TaskId> ids{{1, 2}, {3, 4}, {UINT64_MAX, 0}};
  Message ack = parse(encode_ack(ids));
  EXPECT_EQ(ack.type(), Type::kAck);
  EXPECT_EQ(ack.task_ids(), ids);
  Message cancel = parse(encode_cancel(ids));
  EXPECT_EQ(cancel.type(), Type::kCancel);
  EXPECT_EQ(cancel.task_ids(), ids);
  EXPECT_TRUE(parse(encode_ack({})).task_ids().empty());
}

TEST(MessagesRoundTrip, CancelReply) {
  std::vector<CancelOutcome> outcomes{
      {{1, 1}, "cancelled"}, {{1, 2}, "stopping"}, {{2, 9}, "unknown"}};
  Message m = parse(encode_cancel_reply(outcomes));
  EXPECT_EQ(m.type(), Type::kCancelReply);
  std::vector<CancelOutcome> out = m.cancel_outcomes();
  ASSERT_EQ(out.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(out[i].id, outcomes[i].id);
    EXPECT_EQ(out[i].state, outcomes[i].state);
  }
}

TEST(MessagesRoundTrip, NeedAndFetchModule) {
  ModuleHash h = hash_of("the module");
  Message need = parse(encode_need_module(h));
  EXPECT_EQ(need.type(), Type::kNeedModule);
  EXPECT_EQ(need.module_hash(), h);
  Message fetch = parse(encode_fetch_module(h));
  EXPECT_EQ(fetch.type(), Type::kFetchModule);
  EXPECT_EQ(fetch.module_hash(), h);
}

TEST(MessagesRoundTrip, PutModule) {
  std::string bytes(
      "\x7f"
      "ELF\0\0\x01 and more",
      16);
  ModuleHash h = ModuleHash::of(bytes);
  Message m = parse(encode_put_module(h, "x86_64-linux-libstdc++-cxx11", bytes));
  EXPECT_EQ(m.type(), Type::kPutModule);
  ModuleUpload up = m.module_upload();
  EXPECT_EQ(up.hash, h);
  EXPECT_EQ(up.platform, "x86_64-linux-libstdc++-cxx11");
  EXPECT_EQ(up.bytes, bytes);
}

TEST(MessagesRoundTrip, ModuleWithBytesAndWithError) {
  ModuleHash h = hash_of("m");
  std::string bytes(100000, '\xab');
  ModuleReply with = parse(encode_module(h, &bytes, "")).module_reply();
  EXPECT_EQ(with.hash, h);
  ASSERT_TRUE(with.bytes.has_value());
  EXPECT_EQ(*with.bytes, bytes);
  EXPECT_EQ(with.error, "");
  std::string empty;
  ModuleReply zero = parse(encode_module(h, &empty, "")).module_reply();
  ASSERT_TRUE(zero.bytes.has_value());
  EXPECT_TRUE(zero.bytes->empty());
  Message m = parse(encode_module(h, nullptr, "no such module"));
  EXPECT_EQ(m.type(), Type::kModule);
  ModuleReply without = m.module_reply();
  EXPECT_EQ(without.hash, h);
  EXPECT_FALSE(without.bytes.has_value());
  EXPECT_EQ(without.error, "no such module");
}

TEST(MessagesRoundTrip, Credit) {
  for (std::uint32_t c : {0u, 1u, 70000u, UINT32_MAX}) {
    Message m = parse(encode_credit(c));
    EXPECT_EQ(m.type(), Type::kCredit);
    EXPECT_EQ(m.credit(), c);
  }
}

TEST(MessagesRoundTrip, NoticeAndBye) {
  Message notice = parse(encode_notice("waiting for a worker of platform X"));
  EXPECT_EQ(notice.type(), Type::kNotice);
  EXPECT_EQ(notice.text(), "waiting for a worker of platform X");
  Message bye = parse(encode_bye("shutting down"));
  EXPECT_EQ(bye.type(), Type::kBye);
  EXPECT_EQ(bye.text(), "shutting down");
}

TEST(MessagesRoundTrip, StatusReplyCarriesTheMapVerbatim) {
  msgpack::sbuffer buffer;
  msgpack::packer<msgpack::sbuffer> p(buffer);
  p.pack_map(2);
  p.pack(std::string("queue"));
  p.pack(12);
  p.pack(std::string("workers"));
  p.pack_array(1);
  p.pack(std::string("w-1"));
  std::string map(buffer.data(), buffer.size());
  Message m = parse(encode_status_reply(map));
  EXPECT_EQ(m.type(), Type::kStatusReply);
  const msgpack::object& body = m.field(0);
  ASSERT_EQ(body.type, msgpack::type::MAP);
  ASSERT_EQ(body.via.map.size, 2u);
  EXPECT_EQ(body.via.map.ptr[0].val.as<int>(), 12);
}

TEST(MessagesRoundTrip, FieldsBeyondTheKnownOnesAreIgnored) {
  // A newer peer may append fields; this version reads the ones it knows.
  Frame f;
  f.head(Type::kNotice, 2).str("hello").str("extra");
  EXPECT_EQ(parse(f.done()).text(), "hello");
}

// ---- malformed frames ---------------------------------------------------------------------

TEST(MessagesMalformed, EmptyAndNotMsgpack) {
  expect_parse_error("", "not valid msgpack");
  expect_parse_error(std::string("\xc1", 1), "not valid msgpack");
  expect_parse_error("hello world", "");
}

TEST(MessagesMalformed, NotAnArrayOrTooShort) {
  expect_parse_error(std::string("\x05", 1), "a message must be an array");
  expect_parse_error(std::string("\x80", 1), "a message must be an array");
  expect_parse_error(std::string("\x91\x04", 2), "a message must be an array");
  expect_parse_error(std::string("\x90", 1), "a message must be an array");
}

TEST(MessagesMalformed, UnknownType) {
  expect_parse_error(std::string("\x92\x00\x01", 3), "unknown message type");
  expect_parse_error(std::string("\x92\x7f\x01", 3), "unknown message type");
  expect_parse_error(std::string("\x92\xff\x01", 3), "unknown message type");  // -1
  expect_parse_error(std::string("\x92\xa1x\x01", 4), "unknown message type");
}

TEST(MessagesMalformed, VersionMustBeUnsigned) {
  expect_parse_error(std::string("\x92\x04\xff", 3), "version");
  expect_parse_error(std::string("\x92\x04\xa1\x31", 4), "version");
  // A version this build does not speak still parses: the caller answers it.
  Message m = parse(std::string("\x92\x04\x07", 3));
  EXPECT_EQ(m.type(), Type::kHeartbeat);
  EXPECT_EQ(m.version(), 7u);
}

TEST(MessagesMalformed, TrailingBytes) {
  expect_parse_error(encode_heartbeat() + "x", "trailing bytes");
  expect_parse_error(encode_credit(3) + encode_credit(4), "trailing bytes");
}

TEST(MessagesMalformed, TruncatedAtEveryLength) {
  Task t = make_task(5);
  std::vector<std::string> frames{encode_submit({&t}), encode_welcome(Welcome{}),
                                  encode_error("a", "b")};
  for (const std::string& frame : frames) {
    for (std::size_t n = 0; n < frame.size(); ++n) {
      EXPECT_THROW(Message::parse(frame.data(), n), DecodeError) << "prefix of " << n << " bytes";
    }
  }
}

TEST(MessagesMalformed, HugeClaimedSizesInATinyFrameFailFast) {
  auto start = std::chrono::steady_clock::now();
  // [array32 of 2^32-1 elements]
  expect_parse_error(std::string("\xdd\xff\xff\xff\xff", 5), "not valid msgpack");
  // a message whose body claims a map of 2^32-1 pairs
  expect_parse_error(std::string("\x93\x0e\x01\xdf\xff\xff\xff\xff", 8), "not valid msgpack");
  // a string and a binary claiming 4 GiB
  expect_parse_error(std::string("\x93\x12\x01\xdb\xff\xff\xff\xff", 8), "not valid msgpack");
  expect_parse_error(std::string("\x93\x12\x01\xc6\xff\xff\xff\xff", 8), "not valid msgpack");
  // ext32 of 4 GiB
  expect_parse_error(std::string("\x93\x12\x01\xc9\xff\xff\xff\xff\x01", 9), "not valid msgpack");
  // SUBMIT whose task list claims 100000 tasks in a 20-byte frame
  expect_parse_error(std::string("\x93\x05\x01\xdd\x00\x01\x86\xa0\x90\x90\x90\x90", 12),
                     "not valid msgpack");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(500));
}

TEST(MessagesMalformed, DeepNestingIsRejected) {
  std::string deep = std::string("\x93\x12\x01", 3) + std::string(100000, '\x91') + '\x01';
  expect_parse_error(deep, "not valid msgpack");
  std::string deep_maps = std::string("\x93\x12\x01", 3);
  for (int i = 0; i < 10000; ++i) deep_maps += std::string("\x81\x01", 2);
  deep_maps += '\x01';
  expect_parse_error(deep_maps, "not valid msgpack");
}

TEST(MessagesMalformed, MissingFields) {
  Frame f;
  f.head(Type::kNotice, 0);
  expect_decode_error(
      f.done(), [](const Message& m) { m.text(); }, "NOTICE: missing field 1");
  Frame e;
  e.head(Type::kError, 1).str("code");
  expect_decode_error(
      e.done(), [](const Message& m) { m.error(); }, "ERROR: missing field 2");
  Frame mod;
  mod.head(Type::kModule, 1).bin(hash_of("x").raw());
  expect_decode_error(
      mod.done(), [](const Message& m) { m.module_reply(); }, "MODULE");
}

TEST(MessagesMalformed, WrongFieldTypes) {
  Frame notice;
  notice.head(Type::kNotice, 1).p().pack(5);
  expect_decode_error(
      notice.done(), [](const Message& m) { m.text(); }, "NOTICE: text must be a string");
  Frame credit;
  credit.head(Type::kCredit, 1).p().pack(-1);
  expect_decode_error(
      credit.done(), [](const Message& m) { m.credit(); }, "CREDIT");
  Frame big_credit;
  big_credit.head(Type::kCredit, 1).p().pack(std::uint64_t{1} << 32);
  expect_decode_error(
      big_credit.done(), [](const Message& m) { m.credit(); }, "CREDIT");
  Frame hash;
  hash.head(Type::kFetchModule, 1).bin("short");
  expect_decode_error(
      hash.done(), [](const Message& m) { m.module_hash(); }, "32 bytes");
  Frame hash_str;
  hash_str.head(Type::kNeedModule, 1).p().pack(7);
  expect_decode_error(
      hash_str.done(), [](const Message& m) { m.module_hash(); }, "binary");
  Frame put;
  put.head(Type::kPutModule, 3).bin(hash_of("x").raw()).str("platform").str("not binary");
  expect_decode_error(
      put.done(), [](const Message& m) { m.module_upload(); }, "PUT_MODULE: bytes must be binary");
  Frame module;
  module.head(Type::kModule, 3).bin(hash_of("x").raw()).p().pack(3);
  module.str("");
  expect_decode_error(
      module.done(), [](const Message& m) { m.module_reply(); },
      "MODULE: bytes must be binary or nil");
}

TEST(MessagesMalformed, HelloProblems) {
  Frame role;
  role.head(Type::kHello, 2).p().pack(1);
  role.p().pack_map(0);
  expect_decode_error(
      role.done(), [](const Message& m) { m.hello(); }, "role must be a string");
  Frame other;
  other.head(Type::kHello, 2).str("admin").p().pack_map(0);
  expect_decode_error(
      other.done(), [](const Message& m) { m.hello(); }, "\"admin\"");
  Frame no_session;
  no_session.head(Type::kHello, 2).str("boss").p().pack_map(0);
  expect_decode_error(
      no_session.done(), [](const Message& m) { m.hello(); }, "missing key session");
  Frame bad_session;
  bad_session.head(Type::kHello, 2).str("boss").p().pack_map(1);
  bad_session.str("session").str("abc");
  expect_decode_error(
      bad_session.done(), [](const Message& m) { m.hello(); },
      "session: expected unsigned integer, got string");
  Frame info;
  info.head(Type::kHello, 2).str("boss").p().pack_array(0);
  expect_decode_error(
      info.done(), [](const Message& m) { m.hello(); }, "expected map, got array");

  Hello w;
  w.role = "worker";
  w.worker_id = "w";
  w.slots = 0;
  expect_decode_error(
      encode_hello(w), [](const Message& m) { m.hello(); }, "at least one slot");
  w.slots = 1;
  w.worker_id = "";
  expect_decode_error(
      encode_hello(w), [](const Message& m) { m.hello(); }, "needs an id");
}

TEST(MessagesMalformed, TaskProblems) {
  auto submit_with = [](auto fill) {
    Frame f;
    f.head(Type::kSubmit, 1).p().pack_array(1);
    fill(f);
    return f.done();
  };
  auto tasks = [](const Message& m) { m.tasks(); };
  expect_decode_error(submit_with([](Frame& f) { f.p().pack(1); }), tasks,
                      "task: expected array, got integer");
  expect_decode_error(submit_with([](Frame& f) {
                        f.p().pack_array(3);
                        f.p().pack(1);
                        f.p().pack(2);
                        f.p().pack(3);
                      }),
                      tasks, "task: expected at least 10 fields, got 3");
  // Correct shape, but the session is a string.
  expect_decode_error(submit_with([](Frame& f) {
                        f.p().pack_array(10);
                        f.str("s").p().pack(1);
                        f.bin(hash_of("m").raw()).str("fn").bin("\x90");
                        for (int i = 0; i < 5; ++i) f.p().pack(1);
                      }),
                      tasks, "task: field session: expected unsigned integer, got string");
  // max_attempts does not fit its byte.
  expect_decode_error(submit_with([](Frame& f) {
                        f.p().pack_array(10);
                        f.p().pack(1);
                        f.p().pack(1);
                        f.bin(hash_of("m").raw()).str("fn").bin("\x90");
                        f.p().pack(0);
                        f.p().pack(0);
                        f.p().pack(300);
                        f.p().pack(0);
                        f.p().pack(1);
                      }),
                      tasks, "max_attempts out of range: 300");
  // Empty function name.
  expect_decode_error(submit_with([](Frame& f) {
                        f.p().pack_array(10);
                        f.p().pack(1);
                        f.p().pack(1);
                        f.bin(hash_of("m").raw()).str("").bin("\x90");
                        for (int i = 0; i < 5; ++i) f.p().pack(1);
                      }),
                      tasks, "empty function name");
  // The task list is not a list.
  Frame notlist;
  notlist.head(Type::kTasks, 1).p().pack_map(0);
  expect_decode_error(notlist.done(), tasks, "TASKS: expected array, got map");
}

TEST(MessagesMalformed, ResultProblems) {
  auto results = [](const Message& m) { m.results(); };
  auto result_with_status = [](int status) {
    Frame f;
    f.head(Type::kResult, 1).p().pack_array(1);
    f.p().pack_array(8);
    f.p().pack(1);
    f.p().pack(2);
    f.p().pack(status);
    f.bin("").str("").str("");
    f.p().pack(0);
    f.p().pack(1);
    return f.done();
  };
  EXPECT_NO_THROW(parse(result_with_status(0)).results());
  expect_decode_error(result_with_status(200), results, "unknown status 200");
  expect_decode_error(result_with_status(256), results, "status out of range");
  expect_decode_error(result_with_status(-1), results, "status: expected unsigned integer");
}

TEST(MessagesMalformed, IdListProblems) {
  Frame odd;
  odd.head(Type::kAck, 1).p().pack_array(3);
  odd.p().pack(1);
  odd.p().pack(2);
  odd.p().pack(3);
  expect_decode_error(
      odd.done(), [](const Message& m) { m.task_ids(); }, "odd number");
  Frame strings;
  strings.head(Type::kCancel, 1).p().pack_array(2);
  strings.str("a").str("b");
  expect_decode_error(
      strings.done(), [](const Message& m) { m.task_ids(); },
      "CANCEL: field session: expected unsigned integer, got string");
  Frame outcome;
  outcome.head(Type::kCancelReply, 1).p().pack_array(1);
  outcome.p().pack_array(3);
  outcome.p().pack(1);
  outcome.p().pack(2);
  outcome.p().pack(3);
  expect_decode_error(
      outcome.done(), [](const Message& m) { m.cancel_outcomes(); },
      "cancel outcome: field state: expected string, got integer");
}

TEST(MessagesMalformed, WelcomeProblems) {
  Frame f;
  f.head(Type::kWelcome, 1).p().pack_map(1);
  f.str("manager").str("m");
  expect_decode_error(
      f.done(), [](const Message& m) { m.welcome(); }, "missing key version");
  Frame big;
  big.head(Type::kWelcome, 1).p().pack_map(5);
  big.str("manager").str("m").str("version").str("v").str("heartbeat_ms");
  big.p().pack(std::uint64_t{1} << 40);
  big.str("max_message").p().pack(1);
  big.str("max_module").p().pack(1);
  expect_decode_error(
      big.done(), [](const Message& m) { m.welcome(); }, "heartbeat_ms out of range");
}

}  // namespace
