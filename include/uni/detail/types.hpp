// Checked conversion between msgpack objects and the C++ types a uni function
// may take or return, plus the C++ spelling of those types for signatures.
// Shared by modules (decoding arguments) and bosses (decoding results).
//
// msgpack-cxx's own convert() fills missing array elements with defaults and
// reports type errors as a bare std::bad_cast; here every mismatch becomes a
// message that says where and what: "element 3: expected integer, got string".
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include "uni/detail/export_info.hpp"
#include "uni/detail/msgpack_check.hpp"
#include "uni/detail/pack_buffer.hpp"

// Declared here, exported by libuni-client.so (built with hidden visibility).
#pragma GCC visibility push(default)
namespace uni::detail {

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
  // Spelled at compile time, as the module's export records spell it
  // (export_info.hpp), and as typeid demangling would.
  static std::string name() { return std::string(user_type_name<T>().view()); }

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
    else return std::string(user_type_name<T>().view());
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
#pragma GCC visibility pop
