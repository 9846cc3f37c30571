// Proves src/proto/status.hpp and the typed control replies: the STATUS_REPLY map packed from a
// StatusReport keeps every key the manager always sent, in order and value for value, adds the
// dashboard's keys after them (an older manager's map reads with those zero), and reads back
// intact; a missing or mistyped key is named; the name tables map every status and state both ways;
// CANCEL_REPLY decodes into typed outcomes; SERVICE_STARTED (20) round-trips.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "proto/messages.hpp"
#include "proto/status.hpp"

namespace {

using namespace uni::proto;

Message parse(const std::string& frame) { return Message::parse(frame.data(), frame.size()); }

StatusReport sample() {
  StatusReport r;
  r.manager = "0a1b2c3d4e5f6071";
  r.version = "0.9.0";
  r.endpoint = "tcp://127.0.0.1:7070";
  StatusReport::Worker w;
  w.id = "w1";
  w.host = "node-a";
  w.pid = 70000;
  w.slots = 4;
  w.busy = 3;
  w.assigned = 300;
  w.capacity = 260;
  w.platform = "x86_64-linux-libstdc++-cxx11";
  w.isolation = "process";
  w.last_seen_ms = 1234567;
  r.workers = {w, w};
  r.workers[1].id = "w2";
  r.workers[1].busy = 0;
  r.queue = 100000;
  r.waiting_for_module = 2;
  r.running = 3;
  r.assigned = 300;
  StatusReport::Service s;
  s.id = "00000000000000b1-7";
  s.state = ServiceState::kRunning;
  s.started = true;
  s.worker = "w1";
  s.host = "node-a";
  s.function = "serve";
  s.module = std::string(64, 'a');
  s.becomes = 2;
  r.services = {s, s};
  r.services[1].state = ServiceState::kQueued;
  r.services[1].started = false;
  r.services[1].worker.clear();
  r.services[1].host.clear();
  r.bosses = 1;
  r.totals = {10, 7, 1, 2, 1, 5000000, 1, 5000000, 2, 10000000};
  r.limits.descriptors = 21;
  r.limits.descriptor_limit = 1048576;
  r.limits.connections = 3;
  r.limits.queued_bytes = 4096;
  r.limits.max_queued_bytes = 1ull << 30;
  r.limits.assembling_bytes = 70000;
  r.limits.refused = {{"too-large", 1}, {"queue-full", 0}, {"closed", 2}};
  return r;
}

// The map exactly as the manager's status_map() packed it before the report was typed.
// `become_fields`: with each service's module and becomes (added with
// BECOME); without, the map of the managers before it.
std::string packed_by_hand(const StatusReport& r, bool become_fields = true) {
  msgpack::sbuffer buffer;
  msgpack::packer<msgpack::sbuffer> p(buffer);
  auto key = [&](std::string_view k) { p.pack(k); };
  p.pack_map(11);
  key("manager");
  p.pack(r.manager);
  key("version");
  p.pack(std::string_view(r.version));
  key("endpoint");
  p.pack(r.endpoint);
  key("workers");
  p.pack_array(static_cast<std::uint32_t>(r.workers.size()));
  for (const auto& w : r.workers) {
    p.pack_map(10);
    key("id");
    p.pack(w.id);
    key("host");
    p.pack(w.host);
    key("pid");
    p.pack(w.pid);
    key("slots");
    p.pack(w.slots);
    key("busy");
    p.pack(static_cast<std::size_t>(w.busy));
    key("assigned");
    p.pack(static_cast<std::size_t>(w.assigned));
    key("capacity");
    p.pack(w.capacity);
    key("platform");
    p.pack(w.platform);
    key("isolation");
    p.pack(w.isolation);
    key("last_seen_ms");
    p.pack(static_cast<std::int64_t>(w.last_seen_ms));  // a milliseconds count: signed
  }
  key("queue");
  p.pack(static_cast<std::size_t>(r.queue));
  key("waiting_for_module");
  p.pack(static_cast<std::size_t>(r.waiting_for_module));
  key("running");
  p.pack(static_cast<std::size_t>(r.running));
  key("assigned");
  p.pack(static_cast<std::size_t>(r.assigned));
  key("services");
  p.pack_array(static_cast<std::uint32_t>(r.services.size()));
  for (const auto& s : r.services) {
    p.pack_map(become_fields ? 8 : 6);
    key("id");
    p.pack(s.id);
    key("state");
    p.pack(std::string_view(s.state == ServiceState::kQueued ? "queued" : "running"));
    key("started");
    p.pack(s.started);
    key("worker");
    p.pack(s.worker);
    key("host");
    p.pack(s.host);
    key("function");
    p.pack(s.function);
    if (!become_fields) continue;
    key("module");
    p.pack(s.module);
    key("becomes");
    p.pack(s.becomes);
  }
  key("bosses");
  p.pack(static_cast<std::size_t>(r.bosses));
  key("totals");
  p.pack_map(10);
  for (auto [k, v] : {std::pair<const char*, std::uint64_t>{"submitted", r.totals.submitted},
                      {"completed", r.totals.completed},
                      {"failed", r.totals.failed},
                      {"requeued", r.totals.requeued},
                      {"modules", r.totals.modules},
                      {"module_bytes", r.totals.module_bytes},
                      {"module_uploads", r.totals.module_uploads},
                      {"module_upload_bytes", r.totals.module_upload_bytes},
                      {"module_fetches", r.totals.module_fetches},
                      {"module_fetch_bytes", r.totals.module_fetch_bytes}}) {
    key(k);
    p.pack(v);
  }
  return std::string(buffer.data(), buffer.size());
}

void expect_same(const StatusReport& a, const StatusReport& b) {
  EXPECT_EQ(pack_status_report(a), pack_status_report(b));
  EXPECT_EQ(a.manager, b.manager);
  ASSERT_EQ(a.workers.size(), b.workers.size());
  EXPECT_EQ(a.workers[0].last_seen_ms, b.workers[0].last_seen_ms);
  ASSERT_EQ(a.services.size(), b.services.size());
  EXPECT_EQ(a.services[1].state, b.services[1].state);
  EXPECT_EQ(a.totals.module_fetch_bytes, b.totals.module_fetch_bytes);
  EXPECT_EQ(a.limits.descriptor_limit, b.limits.descriptor_limit);
  EXPECT_EQ(a.limits.assembling_bytes, b.limits.assembling_bytes);
  EXPECT_EQ(a.limits.refused, b.limits.refused);
}

// `newer` holds every key of `older`, in the same order and with the same
// value (recursively), before any key it adds: readers of the older map
// read the newer one as before.
void expect_extends(const msgpack::object& older, const msgpack::object& newer,
                    const std::string& where) {
  ASSERT_EQ(older.type, newer.type) << where;
  if (older.type == msgpack::type::MAP) {
    ASSERT_LE(older.via.map.size, newer.via.map.size) << where;
    for (std::uint32_t i = 0; i < older.via.map.size; ++i) {
      ASSERT_EQ(older.via.map.ptr[i].key, newer.via.map.ptr[i].key) << where;
      expect_extends(older.via.map.ptr[i].val, newer.via.map.ptr[i].val,
                     where + "." + older.via.map.ptr[i].key.as<std::string>());
    }
  } else if (older.type == msgpack::type::ARRAY) {
    ASSERT_EQ(older.via.array.size, newer.via.array.size) << where;
    for (std::uint32_t i = 0; i < older.via.array.size; ++i)
      expect_extends(older.via.array.ptr[i], newer.via.array.ptr[i],
                     where + "[" + std::to_string(i) + "]");
  } else {
    EXPECT_EQ(older, newer) << where;
  }
}

TEST(StatusReport, KeepsTheKeysTheManagerAlwaysSentAndAddsAfterThem) {
  for (const StatusReport& r : {sample(), StatusReport{}}) {
    std::string old_map = packed_by_hand(r), new_map = pack_status_report(r);
    msgpack::object_handle a = msgpack::unpack(old_map.data(), old_map.size());
    msgpack::object_handle b = msgpack::unpack(new_map.data(), new_map.size());
    expect_extends(a.get(), b.get(), "status");
  }
}

TEST(StatusReport, AnOlderManagersMapReadsWithTheNewFieldsZero) {
  std::string old_map = packed_by_hand(sample());
  msgpack::object_handle h = msgpack::unpack(old_map.data(), old_map.size());
  StatusReport r = read_status_report(h.get());
  EXPECT_EQ(r.workers.at(0).last_seen_ms, 1234567u);
  EXPECT_EQ(r.workers.at(0).completed, 0u);
  EXPECT_EQ(r.uptime_ms, 0u);
  EXPECT_EQ(r.tasks_per_s, 0.0);
  EXPECT_TRUE(r.recent_failures.empty());
}

TEST(StatusReport, TheDashboardFieldsRoundTrip) {
  StatusReport r = sample();
  r.workers[0].completed = 41;
  r.workers[0].failed = 2;
  r.workers[0].heartbeat_age_ms = 300;
  r.workers[0].uptime_ms = 86400000;
  r.services[0].uptime_ms = 5000;
  r.totals.cancelled = 3;
  r.uptime_ms = 99;
  r.tasks_per_s = 1234.5;
  r.recent_failures.push_back({"00000000000000b1-9", "fail", "exception", "boom: x", "w1", 1500});
  StatusReport back = parse(encode_status_reply(r)).status_report();
  EXPECT_EQ(back.workers[0].completed, 41u);
  EXPECT_EQ(back.workers[0].failed, 2u);
  EXPECT_EQ(back.workers[0].heartbeat_age_ms, 300u);
  EXPECT_EQ(back.workers[0].uptime_ms, 86400000u);
  EXPECT_EQ(back.services[0].uptime_ms, 5000u);
  EXPECT_EQ(back.totals.cancelled, 3u);
  EXPECT_EQ(back.uptime_ms, 99u);
  EXPECT_DOUBLE_EQ(back.tasks_per_s, 1234.5);
  ASSERT_EQ(back.recent_failures.size(), 1u);
  EXPECT_EQ(back.recent_failures[0].error, "boom: x");
  EXPECT_EQ(back.recent_failures[0].age_ms, 1500u);
  EXPECT_EQ(pack_status_report(back), pack_status_report(r));
}

TEST(StatusReport, AWorkersCapabilitiesRoundTripAndAreBounded) {
  StatusReport r = sample();
  r.workers[0].capabilities = {"python311"};
  StatusReport back = parse(encode_status_reply(r)).status_report();
  EXPECT_EQ(back.workers[0].capabilities, std::vector<std::string>{"python311"});
  EXPECT_TRUE(back.workers[1].capabilities.empty());  // none: the key is left out
  EXPECT_EQ(pack_status_report(back), pack_status_report(r));
  r.workers[0].capabilities.assign(9, "c");  // more than a worker may announce
  EXPECT_THROW(parse(encode_status_reply(r)).status_report(), DecodeError);
  r.workers[0].capabilities = {""};
  EXPECT_THROW(parse(encode_status_reply(r)).status_report(), DecodeError);
}

TEST(StatusReport, AServiceWithoutModuleAndBecomesReadsAsFromAnOlderManager) {
  StatusReport r = sample();
  std::string old = packed_by_hand(r, false);
  msgpack::object_handle h = msgpack::unpack(old.data(), old.size());
  StatusReport back = read_status_report(h.get());
  ASSERT_EQ(back.services.size(), 2u);
  EXPECT_EQ(back.services[0].function, "serve");
  EXPECT_EQ(back.services[0].module, "");
  EXPECT_EQ(back.services[0].becomes, 0u);
  // The current manager's map carries both.
  std::string now = pack_status_report(r);
  msgpack::object_handle h2 = msgpack::unpack(now.data(), now.size());
  StatusReport current = read_status_report(h2.get());
  EXPECT_EQ(current.services[0].module, std::string(64, 'a'));
  EXPECT_EQ(current.services[0].becomes, 2u);
}

TEST(StatusReport, TravelsInStatusReplyAndReadsBackIntact) {
  StatusReport r = sample();
  Message m = parse(encode_status_reply(r));
  EXPECT_EQ(m.type(), Type::kStatusReply);
  expect_same(m.status_report(), r);
  // The same bytes as the map spliced in verbatim.
  EXPECT_EQ(encode_status_reply(r), encode_status_reply(pack_status_report(r)));
}

TEST(StatusReport, KeysItDoesNotKnowAreIgnored) {
  std::string map = pack_status_report(sample());
  // Fifteen keys -> sixteen: a newer manager's extra key at the end. (A map
  // of 16 keys takes a map16 header: 0xde 0x00 0x10.)
  ASSERT_EQ(static_cast<unsigned char>(map[0]), 0x8f);
  map.replace(0, 1, std::string("\xde\x00\x10", 3));
  msgpack::sbuffer extra;
  msgpack::packer<msgpack::sbuffer> p(extra);
  p.pack(std::string_view("some_later_key"));
  p.pack(42);
  map.append(extra.data(), extra.size());
  expect_same(parse(encode_status_reply(map)).status_report(), sample());
}

TEST(StatusReport, AMissingOrMistypedKeyIsNamed) {
  msgpack::sbuffer buffer;
  msgpack::packer<msgpack::sbuffer> p(buffer);
  p.pack_map(1);
  p.pack(std::string_view("manager"));
  p.pack(7);
  std::string bad(buffer.data(), buffer.size());
  try {
    parse(encode_status_reply(bad)).status_report();
    FAIL() << "no DecodeError";
  } catch (const DecodeError& e) {
    EXPECT_STREQ(e.what(), "STATUS_REPLY: manager: expected string, got integer");
  }
  std::string map = pack_status_report(sample());
  map[0] = static_cast<char>(0x81);  // keeps only "manager": the next key is missing
  msgpack::object_handle h = msgpack::unpack(map.data(), map.size());
  EXPECT_THROW(read_status_report(h.get()), DecodeError);
  try {
    read_status_report(h.get());
  } catch (const DecodeError& e) {
    EXPECT_STREQ(e.what(), "STATUS_REPLY: missing key version");
  }
}

TEST(NameTables, EveryStatusAndStateHasOneNameBothWays) {
  const std::vector<std::pair<Status, const char*>> statuses{
      {Status::kOk, "ok"},
      {Status::kException, "exception"},
      {Status::kBadArguments, "bad-arguments"},
      {Status::kUnknownFunction, "unknown-function"},
      {Status::kModuleError, "module-error"},
      {Status::kCrashed, "crashed"},
      {Status::kTimedOut, "timed-out"},
      {Status::kCancelled, "cancelled"},
      {Status::kNoWorker, "no-worker"},
      {Status::kRejected, "rejected"},
      {Status::kHandedBack, "handed-back"},
      {Status::kQueueFull, "queue-full"},
      {Status::kRefused, "refused"}};
  ASSERT_EQ(statuses.size(), static_cast<std::size_t>(kLastStatus) + 1);
  for (auto [status, name] : statuses) {
    EXPECT_STREQ(status_name(status), name);
    EXPECT_EQ(status_from_name(name), status);
  }
  EXPECT_EQ(status_from_name("fine"), std::nullopt);
  for (CancelState s :
       {CancelState::kCancelled, CancelState::kStopping, CancelState::kDone, CancelState::kUnknown})
    EXPECT_EQ(cancel_state_from_name(cancel_state_name(s)), s);
  for (ServiceState s : {ServiceState::kQueued, ServiceState::kStarting, ServiceState::kRunning,
                         ServiceState::kStopping})
    EXPECT_EQ(service_state_from_name(service_state_name(s)), s);
  EXPECT_STREQ(service_state_name(ServiceState::kStarting), "starting");
  EXPECT_STREQ(cancel_state_name(CancelState::kStopping), "stopping");
}

TEST(CancelReply, DecodesIntoTypedOutcomesAndRefusesAnUnknownState) {
  Message m = parse(encode_cancel_reply(
      {{TaskId{1, 2}, CancelState::kStopping}, {TaskId{1, 3}, CancelState::kUnknown}}));
  std::vector<CancelOutcome> out = m.cancel_outcomes();
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].id, (TaskId{1, 2}));
  EXPECT_EQ(out[0].state, CancelState::kStopping);
  EXPECT_EQ(out[1].state, CancelState::kUnknown);

  msgpack::sbuffer buffer;
  msgpack::packer<msgpack::sbuffer> p(buffer);
  p.pack_array(3);
  p.pack(static_cast<int>(Type::kCancelReply));
  p.pack(kVersion);
  p.pack_array(1);
  p.pack_array(3);
  p.pack(1);
  p.pack(2);
  p.pack(std::string_view("vanished"));
  try {
    parse(std::string(buffer.data(), buffer.size())).cancel_outcomes();
    FAIL() << "no DecodeError";
  } catch (const DecodeError& e) {
    EXPECT_STREQ(e.what(), "cancel outcome: unknown state \"vanished\"");
  }
}

TEST(ServiceStarted, CarriesTaskIdsLikeAnAck) {
  std::vector<TaskId> ids{{0xB1, 1}, {0xB1, 9}};
  Message m = parse(encode_service_started(ids));
  EXPECT_EQ(m.type(), Type::kServiceStarted);
  EXPECT_STREQ(type_name(m.type()), "SERVICE_STARTED");
  EXPECT_EQ(m.task_ids(), ids);
  // 25 (CHUNK) is the last type: 26 is unknown.
  EXPECT_THROW(parse(std::string("\x92\x1a\x01", 3)), DecodeError);
  EXPECT_EQ(static_cast<int>(kFlagStartedEvent), 8);
}

}  // namespace
