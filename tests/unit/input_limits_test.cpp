// The bounds on what one message may cost its receiver: values per message
// (check_msgpack's max_elements), records per list (kMaxRecords), a SUBMIT
// refused whole at its first bad record with the record named, bytes read in
// place when asked; the protocol-error budget per peer; credentials hidden
// from log text; repeated log lines limited; a stalled handshake told from a
// refused key.
#include <gtest/gtest.h>

#include "broker/zmq/transport.hpp"
#include "common/log.hpp"
#include "common/redact.hpp"
#include "manager/error_budget.hpp"
#include "manager/submission.hpp"
#include "proto/messages.hpp"

namespace uni {
namespace {

using Packer = msgpack::packer<msgpack::sbuffer>;

template <class Fill>
std::string packed(Fill fill) {
  msgpack::sbuffer b;
  Packer p(b);
  fill(p);
  return std::string(b.data(), b.size());
}

TEST(InputLimits, TheValueBudgetRefusesDenseMessagesBeforeUnpacking) {
  std::string nils = packed([](Packer& p) {
    p.pack_array(3);
    p.pack_uint8(5);
    p.pack_uint8(1);
    p.pack_array(10'000);
    for (int i = 0; i < 10'000; ++i) p.pack_nil();
  });
  EXPECT_EQ(detail::check_msgpack(nils.data(), nils.size()), "");
  std::string error = detail::check_msgpack(nils.data(), nils.size(), 32, nils.size() / 2);
  EXPECT_NE(error.find("more than"), std::string::npos) << error;
  proto::ParseLimits limits;
  limits.max_values = nils.size() / 2;
  EXPECT_THROW(proto::Message::parse(nils.data(), nils.size(), limits), proto::DecodeError);
}

TEST(InputLimits, AListOfMoreRecordsThanAllowedIsRefused) {
  std::string ack = packed([](Packer& p) {
    p.pack_array(3);
    p.pack_uint8(static_cast<std::uint8_t>(proto::Type::kAck));
    p.pack_uint8(1);
    p.pack_array(2 * (proto::kMaxRecords + 1));
    for (std::uint32_t i = 0; i < 2 * (proto::kMaxRecords + 1); ++i) p.pack_uint8(1);
  });
  proto::Message m = proto::Message::parse(ack.data(), ack.size());
  try {
    m.task_ids();
    ADD_FAILURE() << "read " << proto::kMaxRecords + 1 << " ids";
  } catch (const proto::DecodeError& e) {
    EXPECT_NE(std::string(e.what()).find("more than the 262144 allowed"), std::string::npos)
        << e.what();
  }
}

TEST(InputLimits, ASubmitIsRefusedWholeAtItsFirstBadRecordWhichIsNamed) {
  proto::Task good;
  good.id = {7, 1};
  good.module = ModuleHash::of("m");
  good.function = "f";
  proto::Task bad = good;
  bad.id.seq = 2;
  bad.function = "";
  proto::Task later = good;
  later.id.seq = 3;
  std::string submit = proto::encode_submit({&good, &bad, &later});
  proto::Message m = proto::Message::parse(submit.data(), submit.size());
  manager::Submission s = manager::read_submission(m);
  EXPECT_TRUE(s.tasks.empty());
  EXPECT_NE(s.error.find("record 2 of 3: task: empty function name"), std::string::npos) << s.error;
  ASSERT_EQ(s.refused.size(), 3u);
  EXPECT_EQ(s.refused[2], (proto::TaskId{7, 3}));
}

TEST(InputLimits, BytesReadInPlaceEqualBytesCopied) {
  proto::Task t;
  t.id = {1, 2};
  t.module = ModuleHash::of("m");
  t.function = "function";
  t.args = std::string(1000, 'a');
  std::string submit = proto::encode_submit({&t});
  proto::ParseLimits in_place;
  in_place.reference_bytes = true;
  in_place.max_values = submit.size() / 2 + 64;
  proto::Message m = proto::Message::parse(submit.data(), submit.size(), in_place);
  std::vector<proto::Task> tasks = m.tasks();
  ASSERT_EQ(tasks.size(), 1u);
  EXPECT_EQ(tasks[0].args, t.args);
  EXPECT_EQ(tasks[0].function, t.function);
}

TEST(ErrorBudget, APeerHasABurstThenOneErrorPerRefill) {
  manager::ErrorBudget budget;
  manager::Clock::time_point t = manager::Clock::now();
  for (int i = 0; i < manager::ErrorBudget::kBurst; ++i) EXPECT_FALSE(budget.charge("p", t));
  EXPECT_TRUE(budget.charge("p", t));
  EXPECT_FALSE(budget.charge("other", t));
  EXPECT_FALSE(budget.charge("p", t + manager::ErrorBudget::kRefill));
  EXPECT_TRUE(budget.charge("p", t + manager::ErrorBudget::kRefill));
  budget.prune(t + 100 * manager::ErrorBudget::kRefill);
  EXPECT_TRUE(budget.empty());
}

TEST(Redaction, CredentialsAreHiddenAndOtherTextKept) {
  EXPECT_EQ(redact_secrets("connecting to nats://uni:pw-1@h:4222,nats://u2:x@h2"),
            "connecting to nats://uni:[redacted]@h:4222,nats://u2:[redacted]@h2");
  EXPECT_EQ(redact_secrets("nats://s3cret-token@127.0.0.1:4222 dropped"),
            "nats://[redacted]@127.0.0.1:4222 dropped");
  EXPECT_EQ(redact_secrets("tcp://127.0.0.1:7070"), "tcp://127.0.0.1:7070");
  EXPECT_EQ(redact_secrets("mail user@example.com"), "mail user@example.com");
  std::string seed = "SUAMLK2ZNL35WSMW37E7UD4VZ7ELPKW7DHC3BWBSD2GCZ7IUQQXZIORRBU";
  ASSERT_EQ(seed.size(), 58u);
  EXPECT_EQ(redact_secrets("seed " + seed + " read"), "seed [redacted] read");
  EXPECT_EQ(redact_secrets("Authorization: Bearer abc.def"), "Authorization: Bearer [redacted]");
  EXPECT_EQ(redact_secrets("a bearer token file"), "a bearer token file");
  EXPECT_EQ(redact_secrets("url?password=hunter2&x=1 token=t1"),
            "url?password=[redacted]&x=1 token=[redacted]");
}

TEST(LimitedLog, AFewLinesOfAKindAreAdmittedThenCounted) {
  std::uint64_t held_back = 99;
  for (int i = 0; i < log::kLimitedBurst; ++i) {
    EXPECT_TRUE(log::admit_limited("unit-test-kind", held_back));
    EXPECT_EQ(held_back, 0u);
  }
  for (int i = 0; i < 7; ++i) EXPECT_FALSE(log::admit_limited("unit-test-kind", held_back));
  EXPECT_TRUE(log::admit_limited("another-kind", held_back));
}

TEST(HandshakeWatch, AQuickFailureIsARefusedKeyAndALateOneABusyManager) {
  using proto::SocketMonitor;
  using Event = SocketMonitor::Event;
  auto t0 = proto::HandshakeWatch::Clock::now();
  proto::HandshakeWatch refused("tcp://m:1");
  refused.on_event(Event::kConnected, t0);
  refused.on_event(Event::kHandshakeFailed, t0 + std::chrono::milliseconds(5));
  refused.on_event(Event::kDisconnected, t0 + std::chrono::milliseconds(5));
  try {
    refused.check(std::chrono::milliseconds(100), std::chrono::seconds(5));
    ADD_FAILURE() << "a refused key was not reported";
  } catch (const proto::ConnectFailure& e) {
    EXPECT_EQ(e.reason(), proto::ConnectFailure::Reason::kAuthFailed);
  }

  proto::HandshakeWatch stalled("tcp://m:1");
  stalled.on_event(Event::kConnected, t0);
  stalled.on_event(Event::kHandshakeFailed, t0 + proto::kHandshakeLimit);
  stalled.on_event(Event::kDisconnected, t0 + proto::kHandshakeLimit);
  EXPECT_TRUE(stalled.last_failure_stalled());
  EXPECT_NO_THROW(stalled.check(std::chrono::milliseconds(3100), std::chrono::seconds(5)));
  try {
    stalled.check(std::chrono::seconds(5), std::chrono::seconds(5));
    ADD_FAILURE() << "a stalled handshake was not reported";
  } catch (const proto::ConnectFailure& e) {
    EXPECT_EQ(e.reason(), proto::ConnectFailure::Reason::kUnreachable);
    EXPECT_NE(std::string(e.what()).find("busy or overloaded"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace uni
