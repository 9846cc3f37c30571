// FETCH_RESULT and KEPT_RESULT on the wire (see kept_result.hpp).
#include "proto/kept_result.hpp"

#include <limits>

namespace uni::proto {

namespace {

using Packer = msgpack::packer<msgpack::sbuffer>;

void start(Packer& p, Type type, std::uint32_t fields) {
  p.pack_array(2 + fields);
  p.pack_uint8(static_cast<std::uint8_t>(type));
  p.pack_uint32(kVersion);
}

void pack_str(Packer& p, std::string_view s) {
  p.pack_str(static_cast<std::uint32_t>(s.size()));
  p.pack_str_body(s.data(), static_cast<std::uint32_t>(s.size()));
}

[[noreturn]] void fail(const char* message, const std::string& what) {
  throw DecodeError(std::string(message) + ": " + what);
}

const msgpack::object& field(const Message& m, std::uint32_t index, const char* message,
                             const char* name) {
  try {
    return m.field(index);
  } catch (const DecodeError&) {
    fail(message, std::string("missing field ") + name);
  }
}

std::uint64_t u64(const Message& m, std::uint32_t index, const char* message, const char* name) {
  const msgpack::object& o = field(m, index, message, name);
  if (o.type != msgpack::type::POSITIVE_INTEGER)
    fail(message,
         std::string("field ") + name + ": expected unsigned integer, got " + detail::kind_name(o));
  return o.via.u64;
}

std::string str(const Message& m, std::uint32_t index, const char* message, const char* name) {
  const msgpack::object& o = field(m, index, message, name);
  if (o.type != msgpack::type::STR)
    fail(message, std::string("field ") + name + ": expected string, got " + detail::kind_name(o));
  return std::string(o.via.str.ptr, o.via.str.size);
}

}  // namespace

const char* kept_state_name(KeptState state) {
  switch (state) {
    case KeptState::kDone: return "done";
    case KeptState::kPending: return "pending";
    case KeptState::kUnknown: return "unknown";
  }
  return "unknown";
}

std::string encode_fetch_result(const ResultQuery& q) {
  msgpack::sbuffer buffer(48);
  Packer p(buffer);
  start(p, Type::kFetchResult, 4);
  p.pack_uint64(q.request);
  p.pack_uint64(q.id.session);
  p.pack_uint64(q.id.seq);
  p.pack_uint32(q.wait_ms);
  return std::string(buffer.data(), buffer.size());
}

std::string encode_kept_result(const KeptResultReply& r) {
  std::size_t reserve = 96 + r.detail.size();
  if (r.result)
    reserve += r.result->payload.size() + r.result->worker.size() + r.result->host.size();
  msgpack::sbuffer buffer(reserve);
  Packer p(buffer);
  start(p, Type::kKeptResult, 8);
  p.pack_uint64(r.request);
  p.pack_uint64(r.id.session);
  p.pack_uint64(r.id.seq);
  pack_str(p, kept_state_name(r.state));
  if (r.state == KeptState::kDone && r.result) pack_result(p, *r.result);
  else p.pack_nil();
  pack_str(p, r.detail);
  p.pack_uint64(r.uptime_ms);
  p.pack_uint64(r.keep_ms);
  return std::string(buffer.data(), buffer.size());
}

ResultQuery read_fetch_result(const Message& m) {
  const char* what = "FETCH_RESULT";
  ResultQuery q;
  q.request = u64(m, 0, what, "request");
  q.id.session = u64(m, 1, what, "session");
  q.id.seq = u64(m, 2, what, "seq");
  std::uint64_t wait = u64(m, 3, what, "wait_ms");
  if (wait > std::numeric_limits<std::uint32_t>::max())
    fail(what, "field wait_ms out of range: " + std::to_string(wait));
  q.wait_ms = static_cast<std::uint32_t>(wait);
  return q;
}

KeptResultReply read_kept_result(const Message& m) {
  const char* what = "KEPT_RESULT";
  KeptResultReply r;
  r.request = u64(m, 0, what, "request");
  r.id.session = u64(m, 1, what, "session");
  r.id.seq = u64(m, 2, what, "seq");
  std::string state = str(m, 3, what, "state");
  if (state == "done") r.state = KeptState::kDone;
  else if (state == "pending") r.state = KeptState::kPending;
  else if (state == "unknown") r.state = KeptState::kUnknown;
  else fail(what, "unknown state \"" + state + "\"");
  const msgpack::object& result = field(m, 4, what, "result");
  if (r.state == KeptState::kDone) {
    if (result.type == msgpack::type::NIL) fail(what, "state done without a result");
    r.result = decode_result(result);
    if (r.result->id != r.id) fail(what, "the result is another task's");
  } else if (result.type != msgpack::type::NIL) {
    fail(what, "a result with state " + state);
  }
  r.detail = str(m, 5, what, "detail");
  r.uptime_ms = u64(m, 6, what, "uptime_ms");
  r.keep_ms = u64(m, 7, what, "keep_ms");
  return r;
}

}  // namespace uni::proto
