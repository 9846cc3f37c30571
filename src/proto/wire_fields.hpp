// Helpers the additive message files (become, kept_result) share to write
// a message's header and to read its body field by field with errors that
// name the message and the field. Private to src/proto.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

#include "proto/messages.hpp"
#include "uni/detail/msgpack_check.hpp"

namespace uni::proto::wire {

using Packer = msgpack::packer<msgpack::sbuffer>;

inline void start(Packer& p, Type type, std::uint32_t fields) {
  p.pack_array(2 + fields);
  p.pack_uint8(static_cast<std::uint8_t>(type));
  p.pack_uint32(kVersion);
}

inline void pack_str(Packer& p, std::string_view s) {
  p.pack_str(static_cast<std::uint32_t>(s.size()));
  p.pack_str_body(s.data(), static_cast<std::uint32_t>(s.size()));
}

// The body fields of one message, read in order.
class Body {
 public:
  [[noreturn]] void fail(const std::string& what) { throw DecodeError(what_ + (": " + what)); }
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
  [[noreturn]] void wrong(const char* name, const char* expected, const msgpack::object& o) {
    fail(std::string("field ") + name + ": expected " + expected + ", got " + detail::kind_name(o));
  }
  const Message& m_;
  std::string what_;
  std::uint32_t index_ = 0;
};

}  // namespace uni::proto::wire
