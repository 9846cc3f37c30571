// FETCH_RESULT and KEPT_RESULT on the wire (see kept_result.hpp).
#include "proto/kept_result.hpp"

#include "proto/wire_fields.hpp"

namespace uni::proto {

namespace {

using wire::Body;
using wire::pack_str;
using wire::Packer;
using wire::start;

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
  Body body(m, "FETCH_RESULT");
  ResultQuery q;
  q.request = body.u64("request");
  q.id = body.id();
  q.wait_ms = body.u32("wait_ms");
  return q;
}

KeptResultReply read_kept_result(const Message& m) {
  Body body(m, "KEPT_RESULT");
  KeptResultReply r;
  r.request = body.u64("request");
  r.id = body.id();
  std::string state = body.str("state");
  if (state == "done") r.state = KeptState::kDone;
  else if (state == "pending") r.state = KeptState::kPending;
  else if (state == "unknown") r.state = KeptState::kUnknown;
  else body.fail("unknown state \"" + state + "\"");
  const msgpack::object& result = body.next("result");
  if (r.state == KeptState::kDone) {
    if (result.type == msgpack::type::NIL) body.fail("state done without a result");
    r.result = decode_result(result);
    if (r.result->id != r.id) body.fail("the result is another task's");
  } else if (result.type != msgpack::type::NIL) {
    body.fail("a result with state " + state);
  }
  r.detail = body.str("detail");
  r.uptime_ms = body.u64("uptime_ms");
  r.keep_ms = body.u64("keep_ms");
  return r;
}

}  // namespace uni::proto
