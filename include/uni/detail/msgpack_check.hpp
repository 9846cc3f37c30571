// The wire's msgpack validator: every msgpack value uni reads from another
// process (arguments in a module, results in a boss, every message in
// src/proto) is checked here before msgpack-cxx unpacks it, and msgpack
// kinds are named here for error messages.
#pragma once

#ifndef MSGPACK_NO_BOOST
#define MSGPACK_NO_BOOST
#endif
#include <msgpack.hpp>

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

// Declared here, exported by libuni-client.so (built with hidden visibility).
#pragma GCC visibility push(default)
namespace uni::detail {

// Checks that `data` holds exactly one msgpack value whose containers could
// all be filled from the bytes present: every element takes at least one
// byte, so the elements claimed but not yet seen may never outnumber the
// bytes left. msgpack-cxx reserves a container's claimed size before reading
// it; after this check, a message of n bytes can make it reserve for at most
// n elements in all. `max_elements` bounds the values (containers and
// scalars) the whole value may hold: msgpack-cxx makes an object of 24 bytes
// for each, so a receiver that caps them caps its decoding memory whatever
// the bytes say. Returns an error text, or an empty string.
inline std::string check_msgpack(const char* data, std::size_t size, std::size_t max_depth = 64,
                                 std::size_t max_elements = SIZE_MAX) {
  const auto* p = reinterpret_cast<const unsigned char*>(data);
  std::size_t pos = 0;
  std::size_t elements = 0;
  std::size_t pending = 1;          // values still to read
  std::vector<std::uint64_t> open;  // per open container: values left in it
  auto be = [&](std::size_t offset, int bytes) {
    std::uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) v = (v << 8) | p[offset + i];
    return v;
  };
  while (pending > 0) {
    if (pos >= size) return "truncated msgpack";
    if (++elements > max_elements)
      return "msgpack holds more than " + std::to_string(max_elements) + " values";
    unsigned char b = p[pos++];
    std::uint64_t skip = 0;      // payload bytes to jump over
    std::uint64_t children = 0;  // values a container announces
    bool container = false;
    if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3) {
    } else if (b >= 0x80 && b <= 0x8f) {
      children = 2 * (b & 0x0f);
      container = true;
    } else if (b >= 0x90 && b <= 0x9f) {
      children = b & 0x0f;
      container = true;
    } else if (b >= 0xa0 && b <= 0xbf) {
      skip = b & 0x1f;
    } else {
      int len_bytes = 0;
      switch (b) {
        case 0xc4:
        case 0xd9: len_bytes = 1; break;  // bin8, str8
        case 0xc5:
        case 0xda: len_bytes = 2; break;  // bin16, str16
        case 0xc6:
        case 0xdb: len_bytes = 4; break;  // bin32, str32
        case 0xc7:
          len_bytes = 1;
          skip = 1;
          break;  // ext8 (+type)
        case 0xc8:
          len_bytes = 2;
          skip = 1;
          break;  // ext16
        case 0xc9:
          len_bytes = 4;
          skip = 1;
          break;                     // ext32
        case 0xca: skip = 4; break;  // float32
        case 0xcb: skip = 8; break;  // float64
        case 0xcc:
        case 0xd0: skip = 1; break;
        case 0xcd:
        case 0xd1: skip = 2; break;
        case 0xce:
        case 0xd2: skip = 4; break;
        case 0xcf:
        case 0xd3: skip = 8; break;
        case 0xd4: skip = 2; break;  // fixext1 (+type)
        case 0xd5: skip = 3; break;
        case 0xd6: skip = 5; break;
        case 0xd7: skip = 9; break;
        case 0xd8: skip = 17; break;
        case 0xdc:
        case 0xde:
          len_bytes = 2;
          container = true;
          break;  // array16, map16
        case 0xdd:
        case 0xdf:
          len_bytes = 4;
          container = true;
          break;  // array32, map32
        default: return "invalid msgpack type byte";
      }
      if (len_bytes > 0) {
        if (size - pos < static_cast<std::size_t>(len_bytes)) return "truncated msgpack";
        std::uint64_t n = be(pos, len_bytes);
        pos += static_cast<std::size_t>(len_bytes);
        if (container) children = (b == 0xde || b == 0xdf) ? 2 * n : n;
        else skip += n;
      }
    }
    if (skip > size - pos) return "truncated msgpack";
    pos += static_cast<std::size_t>(skip);
    --pending;
    if (!open.empty()) --open.back();  // never 0 here: finished containers are popped below
    if (container) {
      // Every value still to come takes at least one of the bytes left.
      if (children + pending > size - pos) return "msgpack claims more elements than it has bytes";
      pending += static_cast<std::size_t>(children);
      open.push_back(children);
      if (open.size() > max_depth) return "msgpack nested too deeply";
    }
    while (!open.empty() && open.back() == 0) open.pop_back();
  }
  if (pos != size) return "trailing bytes after the msgpack value";
  return {};
}

// Unpacks after check_msgpack; throws std::runtime_error with its message.
inline msgpack::object_handle unpack_checked(const char* data, std::size_t size) {
  if (std::string error = check_msgpack(data, size); !error.empty())
    throw std::runtime_error(error);
  return msgpack::unpack(data, size);
}

// What a msgpack value is, in the words of an error message.
inline const char* kind_name(const msgpack::object& o) {
  switch (o.type) {
    case msgpack::type::NIL: return "nil";
    case msgpack::type::BOOLEAN: return "boolean";
    case msgpack::type::POSITIVE_INTEGER:
    case msgpack::type::NEGATIVE_INTEGER: return "integer";
    case msgpack::type::FLOAT32:
    case msgpack::type::FLOAT64: return "float";
    case msgpack::type::STR: return "string";
    case msgpack::type::BIN: return "binary";
    case msgpack::type::ARRAY: return "array";
    case msgpack::type::MAP: return "map";
    case msgpack::type::EXT: return "extension";
  }
  return "unknown";
}

}  // namespace uni::detail
#pragma GCC visibility pop
