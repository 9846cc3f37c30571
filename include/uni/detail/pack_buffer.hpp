// Where uni packs argument and result values (PackBuffer, Packer), and the
// one place that touches msgpack-cxx's internals: its packer writes a
// whole-valued double (2.0) as an integer, losing its type; the
// specialisation below keeps floats floats.
#pragma once

#ifndef MSGPACK_NO_BOOST
#define MSGPACK_NO_BOOST
#endif
#include <msgpack.hpp>

#include <array>
#include <bit>
#include <cstdint>
#include <string>
#include <type_traits>

// Declared here, exported by libuni-client.so (built with hidden visibility).
#pragma GCC visibility push(default)
namespace uni::detail {

// A type of its own so that the packer's float handling can be specialized
// for it (below): msgpack-cxx 4.1 writes a whole-valued double (2.0) as an
// integer.
struct PackBuffer {
  std::string data;
  void write(const char* bytes, std::size_t size) { data.append(bytes, size); }
};
using Packer = msgpack::packer<PackBuffer>;

// A float in msgpack's big-endian IEEE encoding (float32 or float64), never
// shortened to an integer.
template <class Float>
std::array<char, 1 + sizeof(Float)> float_bytes(Float value) {
  using Bits = std::conditional_t<sizeof(Float) == 8, std::uint64_t, std::uint32_t>;
  auto bits = std::bit_cast<Bits>(value);
  std::array<char, 1 + sizeof(Float)> out{static_cast<char>(sizeof(Float) == 8 ? 0xcb : 0xca)};
  for (std::size_t i = 0; i < sizeof(Float); ++i)
    out[1 + i] = static_cast<char>(bits >> (8 * (sizeof(Float) - 1 - i)));
  return out;
}

}  // namespace uni::detail
#pragma GCC visibility pop

namespace msgpack {
inline namespace v3 {}
namespace v1 {
template <>
inline packer<uni::detail::PackBuffer>& packer<uni::detail::PackBuffer>::pack_double(double d) {
  auto bytes = uni::detail::float_bytes(d);
  append_buffer(bytes.data(), bytes.size());
  return *this;
}
template <>
inline packer<uni::detail::PackBuffer>& packer<uni::detail::PackBuffer>::pack_float(float d) {
  auto bytes = uni::detail::float_bytes(d);
  append_buffer(bytes.data(), bytes.size());
  return *this;
}
}  // namespace v1
}  // namespace msgpack
