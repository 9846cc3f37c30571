// Checked conversion between msgpack objects and the C++ types a uni function
// may take or return, plus the C++ spelling of those types for signatures.
// Shared by modules (decoding arguments) and bosses (decoding results).
//
// msgpack-cxx's own convert() fills missing array elements with defaults and
// reports type errors as a bare std::bad_cast; here every mismatch becomes a
// message that says where and what: "element 3: expected integer, got string".
#pragma once

#ifndef MSGPACK_NO_BOOST
#define MSGPACK_NO_BOOST
#endif
#include <msgpack.hpp>

#include <cxxabi.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>
#include <typeinfo>
#include <unordered_map>
#include <utility>
#include <vector>

namespace uni::detail {

// Where uni packs argument and result values. A type of its own so that the
// packer's float handling can be specialized for it (below): msgpack-cxx 4.1
// writes a whole-valued double (2.0) as an integer, losing its type.
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

namespace uni::detail {

// Checks that `data` holds exactly one msgpack value whose containers could
// all be filled from the bytes present: every element takes at least one
// byte, so the elements claimed but not yet seen may never outnumber the
// bytes left. msgpack-cxx reserves a container's claimed size before reading
// it; after this check, a message of n bytes can make it reserve for at most
// n elements in all. Returns an error text, or an empty string.
inline std::string check_msgpack(const char* data, std::size_t size, std::size_t max_depth = 64) {
  const auto* p = reinterpret_cast<const unsigned char*>(data);
  std::size_t pos = 0;
  std::size_t pending = 1;          // values still to read
  std::vector<std::uint64_t> open;  // per open container: values left in it
  auto be = [&](std::size_t offset, int bytes) {
    std::uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) v = (v << 8) | p[offset + i];
    return v;
  };
  while (pending > 0) {
    if (pos >= size) return "truncated msgpack";
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

inline std::string demangle(const char* mangled) {
  int status = 0;
  std::unique_ptr<char, decltype(&std::free)> out(
      abi::__cxa_demangle(mangled, nullptr, nullptr, &status), &std::free);
  return status == 0 && out ? std::string(out.get()) : std::string(mangled);
}

inline std::string mismatch(const char* expected, const msgpack::object& o) {
  return std::string("expected ") + expected + ", got " + kind_name(o);
}

inline bool is_number(const msgpack::object& o) {
  return o.type == msgpack::type::POSITIVE_INTEGER || o.type == msgpack::type::NEGATIVE_INTEGER ||
         o.type == msgpack::type::FLOAT32 || o.type == msgpack::type::FLOAT64;
}

// Where `given` and `kept` (a decoded value packed back) differ in shape:
// container kind and length, element kinds. Empty if they agree.
inline std::string shape_difference(const msgpack::object& given, const msgpack::object& kept) {
  bool same_kind = given.type == kept.type || (is_number(given) && is_number(kept)) ||
                   ((given.type == msgpack::type::STR || given.type == msgpack::type::BIN) &&
                    (kept.type == msgpack::type::STR || kept.type == msgpack::type::BIN));
  if (!same_kind) return mismatch(kind_name(kept), given);
  if (given.type == msgpack::type::ARRAY) {
    if (given.via.array.size != kept.via.array.size)
      return "expected array of " + std::to_string(kept.via.array.size) +
             " elements, got array of " + std::to_string(given.via.array.size);
    for (std::uint32_t i = 0; i < given.via.array.size; ++i)
      if (std::string d = shape_difference(given.via.array.ptr[i], kept.via.array.ptr[i]);
          !d.empty())
        return "element " + std::to_string(i + 1) + ": " + d;
  }
  if (given.type == msgpack::type::MAP && given.via.map.size != kept.via.map.size)
    return "expected map of " + std::to_string(kept.via.map.size) + " entries, got " +
           std::to_string(given.via.map.size);
  return {};
}

// Codec<T>: name() spells T for signatures; decode() converts or explains why not.
// The primary template covers user types (MSGPACK_DEFINE and custom adaptors):
// msgpack-cxx converts them, and a round trip checks that nothing was lost.
template <class T, class Enable = void>
struct Codec {
  static std::string name() { return demangle(typeid(T).name()); }

  static bool decode(const msgpack::object& o, T& out, std::string& error) {
    try {
      o.convert(out);
    } catch (const std::exception& e) {
      error = "expected " + name() + ", got " + kind_name(o) + " (" + e.what() + ")";
      return false;
    }
    // msgpack-cxx converts nested values leniently too (a member struct's
    // missing fields become defaults). Packing the result back and comparing
    // shapes catches every such loss.
    PackBuffer back;
    Packer(back).pack(out);
    msgpack::object_handle packed = msgpack::unpack(back.data.data(), back.data.size());
    if (std::string where = shape_difference(o, packed.get()); !where.empty()) {
      error = "expected " + name() + ": " + where;
      return false;
    }
    return true;
  }
};

template <class T>
std::string type_name() {
  return Codec<std::remove_cvref_t<T>>::name();
}

template <class T>
bool decode(const msgpack::object& o, T& out, std::string& error) {
  return Codec<T>::decode(o, out, error);
}

template <>
struct Codec<bool> {
  static std::string name() { return "bool"; }
  static bool decode(const msgpack::object& o, bool& out, std::string& error) {
    if (o.type != msgpack::type::BOOLEAN) {
      error = mismatch("boolean", o);
      return false;
    }
    out = o.via.boolean;
    return true;
  }
};

template <class T>
struct Codec<T, std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool>>> {
  static std::string name() {
    if constexpr (std::is_same_v<T, char>) return "char";
    else if constexpr (std::is_same_v<T, signed char>) return "signed char";
    else if constexpr (std::is_same_v<T, unsigned char>) return "unsigned char";
    else if constexpr (std::is_same_v<T, short>) return "short";
    else if constexpr (std::is_same_v<T, unsigned short>) return "unsigned short";
    else if constexpr (std::is_same_v<T, int>) return "int";
    else if constexpr (std::is_same_v<T, unsigned>) return "unsigned int";
    else if constexpr (std::is_same_v<T, long>) return "long";
    else if constexpr (std::is_same_v<T, unsigned long>) return "unsigned long";
    else if constexpr (std::is_same_v<T, long long>) return "long long";
    else if constexpr (std::is_same_v<T, unsigned long long>) return "unsigned long long";
    else return demangle(typeid(T).name());
  }
  // std::in_range refuses character types; check against their integer twin.
  static constexpr bool kCharacter = std::is_same_v<T, char> || std::is_same_v<T, wchar_t> ||
                                     std::is_same_v<T, char8_t> || std::is_same_v<T, char16_t> ||
                                     std::is_same_v<T, char32_t>;
  using Range = std::conditional_t<
      kCharacter,
      std::conditional_t<std::is_signed_v<T>, std::make_signed_t<T>, std::make_unsigned_t<T>>, T>;
  static bool decode(const msgpack::object& o, T& out, std::string& error) {
    if (o.type == msgpack::type::POSITIVE_INTEGER) {
      if (std::in_range<Range>(o.via.u64)) {
        out = static_cast<T>(o.via.u64);
        return true;
      }
      error = "expected integer that fits " + name() + ", got " + std::to_string(o.via.u64);
      return false;
    }
    if (o.type == msgpack::type::NEGATIVE_INTEGER) {
      if (std::in_range<Range>(o.via.i64)) {
        out = static_cast<T>(o.via.i64);
        return true;
      }
      error = "expected integer that fits " + name() + ", got " + std::to_string(o.via.i64);
      return false;
    }
    error = mismatch("integer", o);
    return false;
  }
};

template <class T>
struct Codec<T, std::enable_if_t<std::is_floating_point_v<T>>> {
  static std::string name() {
    if constexpr (std::is_same_v<T, float>) return "float";
    else if constexpr (std::is_same_v<T, double>) return "double";
    else return "long double";
  }
  static bool decode(const msgpack::object& o, T& out, std::string& error) {
    switch (o.type) {
      case msgpack::type::FLOAT32:
      case msgpack::type::FLOAT64: out = static_cast<T>(o.via.f64); return true;
      case msgpack::type::POSITIVE_INTEGER: out = static_cast<T>(o.via.u64); return true;
      case msgpack::type::NEGATIVE_INTEGER: out = static_cast<T>(o.via.i64); return true;
      default: error = mismatch("number", o); return false;
    }
  }
};

template <>
struct Codec<std::string> {
  static std::string name() { return "std::string"; }
  static bool decode(const msgpack::object& o, std::string& out, std::string& error) {
    if (o.type == msgpack::type::STR) {
      out.assign(o.via.str.ptr, o.via.str.size);
      return true;
    }
    if (o.type == msgpack::type::BIN) {
      out.assign(o.via.bin.ptr, o.via.bin.size);
      return true;
    }
    error = mismatch("string", o);
    return false;
  }
};

template <class T>
struct Codec<std::vector<T>> {
  static std::string name() { return "std::vector<" + type_name<T>() + ">"; }
  static bool decode(const msgpack::object& o, std::vector<T>& out, std::string& error) {
    if constexpr (sizeof(T) == 1 && std::is_integral_v<T> && !std::is_same_v<T, bool>) {
      if (o.type == msgpack::type::BIN) {  // bytes travel as msgpack binary
        out.assign(reinterpret_cast<const T*>(o.via.bin.ptr),
                   reinterpret_cast<const T*>(o.via.bin.ptr) + o.via.bin.size);
        return true;
      }
    }
    if (o.type != msgpack::type::ARRAY) {
      error = mismatch("array", o);
      return false;
    }
    out.clear();
    out.resize(o.via.array.size);
    for (std::uint32_t i = 0; i < o.via.array.size; ++i) {
      T value{};
      if (!uni::detail::decode(o.via.array.ptr[i], value, error)) {
        error = "element " + std::to_string(i + 1) + ": " + error;
        return false;
      }
      out[i] = std::move(value);
    }
    return true;
  }
};

template <class T, std::size_t N>
struct Codec<std::array<T, N>> {
  static std::string name() {
    return "std::array<" + type_name<T>() + ", " + std::to_string(N) + ">";
  }
  static bool decode(const msgpack::object& o, std::array<T, N>& out, std::string& error) {
    if (o.type != msgpack::type::ARRAY || o.via.array.size != N) {
      error = "expected array of " + std::to_string(N) + " elements, got " +
              (o.type == msgpack::type::ARRAY ? "array of " + std::to_string(o.via.array.size)
                                              : std::string(kind_name(o)));
      return false;
    }
    for (std::size_t i = 0; i < N; ++i) {
      if (!uni::detail::decode(o.via.array.ptr[i], out[i], error)) {
        error = "element " + std::to_string(i + 1) + ": " + error;
        return false;
      }
    }
    return true;
  }
};

template <class Map>
struct MapCodec {
  using K = typename Map::key_type;
  using V = typename Map::mapped_type;
  static bool decode(const msgpack::object& o, Map& out, std::string& error) {
    if (o.type != msgpack::type::MAP) {
      error = mismatch("map", o);
      return false;
    }
    out.clear();
    for (std::uint32_t i = 0; i < o.via.map.size; ++i) {
      K key{};
      V value{};
      if (!uni::detail::decode(o.via.map.ptr[i].key, key, error)) {
        error = "key " + std::to_string(i + 1) + ": " + error;
        return false;
      }
      if (!uni::detail::decode(o.via.map.ptr[i].val, value, error)) {
        error = "value " + std::to_string(i + 1) + ": " + error;
        return false;
      }
      out.insert_or_assign(std::move(key), std::move(value));
    }
    return true;
  }
};

template <class K, class V>
struct Codec<std::map<K, V>> : MapCodec<std::map<K, V>> {
  static std::string name() { return "std::map<" + type_name<K>() + ", " + type_name<V>() + ">"; }
};

template <class K, class V>
struct Codec<std::unordered_map<K, V>> : MapCodec<std::unordered_map<K, V>> {
  static std::string name() {
    return "std::unordered_map<" + type_name<K>() + ", " + type_name<V>() + ">";
  }
};

template <class T>
struct Codec<std::optional<T>> {
  static std::string name() { return "std::optional<" + type_name<T>() + ">"; }
  static bool decode(const msgpack::object& o, std::optional<T>& out, std::string& error) {
    if (o.type == msgpack::type::NIL) {
      out.reset();
      return true;
    }
    T value{};
    if (!uni::detail::decode(o, value, error)) return false;
    out = std::move(value);
    return true;
  }
};

template <class Tuple, std::size_t... I>
bool decode_elements(const msgpack::object& o, Tuple& out, std::string& error,
                     std::index_sequence<I...>) {
  constexpr std::size_t n = sizeof...(I);
  if (o.type != msgpack::type::ARRAY || o.via.array.size != n) {
    error = "expected array of " + std::to_string(n) + " elements, got " +
            (o.type == msgpack::type::ARRAY ? "array of " + std::to_string(o.via.array.size)
                                            : std::string(kind_name(o)));
    return false;
  }
  std::size_t failed = 0;
  bool ok = ((uni::detail::decode(o.via.array.ptr[I], std::get<I>(out), error) ||
              (failed = I + 1, false)) &&
             ...);
  if (!ok) error = "element " + std::to_string(failed) + ": " + error;
  return ok;
}

template <class... Ts>
std::string join_type_names() {
  std::string out;
  ((out += (out.empty() ? "" : ", ") + type_name<Ts>()), ...);
  return out;
}

template <class... Ts>
struct Codec<std::tuple<Ts...>> {
  static std::string name() { return "std::tuple<" + join_type_names<Ts...>() + ">"; }
  static bool decode(const msgpack::object& o, std::tuple<Ts...>& out, std::string& error) {
    return decode_elements(o, out, error, std::index_sequence_for<Ts...>{});
  }
};

template <class A, class B>
struct Codec<std::pair<A, B>> {
  static std::string name() { return "std::pair<" + join_type_names<A, B>() + ">"; }
  static bool decode(const msgpack::object& o, std::pair<A, B>& out, std::string& error) {
    std::tuple<A, B> both;
    if (!decode_elements(o, both, error, std::index_sequence_for<A, B>{})) return false;
    out = {std::move(std::get<0>(both)), std::move(std::get<1>(both))};
    return true;
  }
};

// The pieces of a plain function type: R(Args...), noexcept or not.
template <class F>
struct FunctionTraits;

template <class R, class... Args>
struct FunctionTraits<R (*)(Args...)> {
  using Result = R;
  using ArgsTuple = std::tuple<std::remove_cvref_t<Args>...>;
  static constexpr std::size_t arity = sizeof...(Args);
  static std::string signature(const char* name) {
    return type_name<R>() + " " + name + "(" + join_type_names<Args...>() + ")";
  }
};

template <class R, class... Args>
struct FunctionTraits<R (*)(Args...) noexcept> : FunctionTraits<R (*)(Args...)> {};

template <class R, class... Args>
struct FunctionTraits<R(Args...)> : FunctionTraits<R (*)(Args...)> {};

template <>
struct Codec<void> {
  static std::string name() { return "void"; }
};

// Decodes a msgpack array into a tuple of arguments. On failure, the message
// reads "argument 2: expected integer, got string" or names the count mismatch.
template <class Tuple>
bool decode_arguments(const msgpack::object& o, Tuple& out, std::string& error) {
  constexpr std::size_t n = std::tuple_size_v<Tuple>;
  if (o.type != msgpack::type::ARRAY) {
    error = std::string("arguments must be an array, got ") + kind_name(o);
    return false;
  }
  if (o.via.array.size != n) {
    error = "expected " + std::to_string(n) + (n == 1 ? " argument" : " arguments") + ", got " +
            std::to_string(o.via.array.size);
    return false;
  }
  return [&]<std::size_t... I>(std::index_sequence<I...>) {
    std::size_t failed = 0;
    bool ok = ((uni::detail::decode(o.via.array.ptr[I], std::get<I>(out), error) ||
                (failed = I + 1, false)) &&
               ...);
    if (!ok) error = "argument " + std::to_string(failed) + ": " + error;
    return ok;
  }
  (std::make_index_sequence<n>{});
}

}  // namespace uni::detail
