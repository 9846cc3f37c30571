// BECOME and BECOME_REPLY on the wire (see become.hpp).
#include "proto/become.hpp"

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

// The body fields of one message, read in order.
class Body {
 public:
  Body(const Message& m, const char* what) : m_(m), what_(what) {}
  const msgpack::object& next(const char* name) {
    try {
      return m_.field(index_++);
    } catch (const DecodeError&) {
      fail(std::string("missing field ") + name);
    }
  }
  std::uint64_t u64(const char* name) {
    const msgpack::object& o = next(name);
    if (o.type != msgpack::type::POSITIVE_INTEGER) wrong(name, "unsigned integer", o);
    return o.via.u64;
  }
  std::uint32_t u32(const char* name) {
    std::uint64_t v = u64(name);
    if (v > std::numeric_limits<std::uint32_t>::max())
      fail(std::string("field ") + name + " out of range: " + std::to_string(v));
    return static_cast<std::uint32_t>(v);
  }
  bool boolean(const char* name) {
    const msgpack::object& o = next(name);
    if (o.type != msgpack::type::BOOLEAN) wrong(name, "boolean", o);
    return o.via.boolean;
  }
  std::string str(const char* name) {
    const msgpack::object& o = next(name);
    if (o.type != msgpack::type::STR) wrong(name, "string", o);
    return std::string(o.via.str.ptr, o.via.str.size);
  }
  ModuleHash hash(const char* name) {
    const msgpack::object& o = next(name);
    if (o.type != msgpack::type::BIN) wrong(name, "binary", o);
    auto h = ModuleHash::from_bytes(std::string_view(o.via.bin.ptr, o.via.bin.size));
    if (!h)
      fail(std::string("field ") + name + " must be 32 bytes, got " +
           std::to_string(o.via.bin.size));
    return *h;
  }
  TaskId id() {
    TaskId id;
    id.session = u64("session");
    id.seq = u64("seq");
    return id;
  }

 private:
  [[noreturn]] void fail(const std::string& what) { throw DecodeError(what_ + (": " + what)); }
  [[noreturn]] void wrong(const char* name, const char* expected, const msgpack::object& o) {
    fail(std::string("field ") + name + ": expected " + expected + ", got " + detail::kind_name(o));
  }
  const Message& m_;
  std::string what_;
  std::uint32_t index_ = 0;
};

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
