// BECOME and BECOME_REPLY on the wire (see become.hpp).
#include "proto/become.hpp"

#include "proto/wire_fields.hpp"

namespace uni::proto {

namespace {

using wire::Body;
using wire::pack_str;
using wire::Packer;
using wire::start;

}  // namespace

std::string encode_become(const BecomeRequest& r) {
  msgpack::sbuffer buffer(96 + r.function.size());
  Packer p(buffer);
  start(p, Type::kBecome, 6);
  p.pack_uint64(r.request);
  p.pack_uint64(r.service.session);
  p.pack_uint64(r.service.seq);
  std::string_view raw = r.module.raw();
  p.pack_bin(static_cast<std::uint32_t>(raw.size()));
  p.pack_bin_body(raw.data(), static_cast<std::uint32_t>(raw.size()));
  pack_str(p, r.function);
  p.pack_uint32(r.timeout_ms);
  return std::string(buffer.data(), buffer.size());
}

std::string encode_become_reply(const BecomeReply& r) {
  msgpack::sbuffer buffer(64 + r.text.size());
  Packer p(buffer);
  start(p, Type::kBecomeReply, 7);
  p.pack_uint64(r.request);
  p.pack_uint64(r.service.session);
  p.pack_uint64(r.service.seq);
  if (r.ok) p.pack_true();
  else p.pack_false();
  pack_str(p, r.text);
  p.pack_uint64(r.handover_ns);
  p.pack_uint32(r.becomes);
  return std::string(buffer.data(), buffer.size());
}

BecomeRequest read_become(const Message& m) {
  Body in(m, "BECOME");
  BecomeRequest r;
  r.request = in.u64("request");
  r.service = in.id();
  r.module = in.hash("module");
  r.function = in.str("function");
  r.timeout_ms = in.u32("timeout_ms");
  if (r.timeout_ms == 0) r.timeout_ms = kDefaultBecomeTimeoutMs;
  return r;
}

BecomeReply read_become_reply(const Message& m) {
  Body in(m, "BECOME_REPLY");
  BecomeReply r;
  r.request = in.u64("request");
  r.service = in.id();
  r.ok = in.boolean("ok");
  r.text = in.str("text");
  r.handover_ns = in.u64("handover_ns");
  r.becomes = in.u32("becomes");
  return r;
}

}  // namespace uni::proto
