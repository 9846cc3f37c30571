// Compile-time descriptions of exported functions, stored in the module's
// `.uni_exports` ELF section so that a tool in any language can list a
// module's functions and check arguments without loading (running) it.
// The byte format is specified in docs/protocol.md §15.5.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include "uni/detail/module_abi.hpp"

// Declared here, exported by libuni-client.so (built with hidden visibility).
#pragma GCC visibility push(default)
namespace uni {
class ServiceContext;  // uni/service.hpp
}

namespace uni::detail {

// A string of N characters (plus a NUL) usable in constant expressions.
template <std::size_t N>
struct FixedString {
  char chars[N + 1]{};
  constexpr FixedString() = default;
  constexpr FixedString(const char (&text)[N + 1]) {
    for (std::size_t i = 0; i < N; ++i) chars[i] = text[i];
  }
  static constexpr std::size_t size() { return N; }
  constexpr std::string_view view() const { return {chars, N}; }
};
template <std::size_t M>
FixedString(const char (&)[M]) -> FixedString<M - 1>;

template <std::size_t A, std::size_t B>
constexpr FixedString<A + B> operator+(const FixedString<A>& a, const FixedString<B>& b) {
  FixedString<A + B> out;
  for (std::size_t i = 0; i < A; ++i) out.chars[i] = a.chars[i];
  for (std::size_t i = 0; i < B; ++i) out.chars[A + i] = b.chars[i];
  return out;
}

template <std::size_t Value>
constexpr auto fixed_number() {
  constexpr std::size_t digits = [] {
    std::size_t n = 1;
    for (std::size_t v = Value; v >= 10; v /= 10) ++n;
    return n;
  }();
  FixedString<digits> out;
  std::size_t v = Value;
  for (std::size_t i = digits; i-- > 0; v /= 10) out.chars[i] = static_cast<char>('0' + v % 10);
  return out;
}

// The compiler's spelling of T ("Point", "geo::Point<3>"), as typeid-demangling
// gives it at run time, taken from the signature of this very function.
template <class T>
constexpr std::string_view pretty_type_name() {
  std::string_view p = __PRETTY_FUNCTION__;
  std::size_t start = p.find("T = ") + 4;
  std::size_t end = p.find_first_of(";]", start);
  return p.substr(start, end - start);
}

// pretty_type_name<T>() as typeid demangling spells it: GCC writes an
// anonymous namespace "{anonymous}", the demangler "(anonymous namespace)".
// consteval: a copy compiled for run time (Codec<T>::name() calls it) made
// GCC warn of an overflow in the substitution, which it cannot see is dead
// where the name has no "{anonymous}".
template <class T>
consteval auto user_type_name() {
  constexpr std::string_view raw = pretty_type_name<T>();
  constexpr std::string_view from = "{anonymous}", to = "(anonymous namespace)";
  constexpr std::size_t hits = [&] {
    std::size_t n = 0;
    for (std::size_t at = raw.find(from); at != std::string_view::npos; at = raw.find(from, at + 1))
      ++n;
    return n;
  }();
  FixedString<raw.size() + hits*(to.size() - from.size())> out;
  std::size_t o = 0;
  for (std::size_t i = 0; i < raw.size();) {
    if (raw.substr(i, from.size()) == from) {
      for (char c : to) out.chars[o++] = c;
      i += from.size();
    } else {
      out.chars[o++] = raw[i++];
    }
  }
  return out;
}

// TypeInfo<T>: `cpp` spells T as the worker's signatures do (Codec<T>::name());
// `desc` is its type descriptor (docs/protocol.md §15.5). Types without a
// specialisation are user types (MSGPACK_DEFINE structs, custom adaptors).
template <class T, class Enable = void>
struct TypeInfo {
  static constexpr auto cpp = user_type_name<T>();
  static constexpr auto desc =
      FixedString("user<") + fixed_number<cpp.size()>() + FixedString(":") + cpp + FixedString(">");
};

template <>
struct TypeInfo<void> {
  static constexpr auto cpp = FixedString("void");
  static constexpr auto desc = FixedString("void");
};

template <>
struct TypeInfo<bool> {
  static constexpr auto cpp = FixedString("bool");
  static constexpr auto desc = FixedString("bool");
};

template <class T>
constexpr auto integer_cpp_name() {
  if constexpr (std::is_same_v<T, char>) return FixedString("char");
  else if constexpr (std::is_same_v<T, signed char>) return FixedString("signed char");
  else if constexpr (std::is_same_v<T, unsigned char>) return FixedString("unsigned char");
  else if constexpr (std::is_same_v<T, short>) return FixedString("short");
  else if constexpr (std::is_same_v<T, unsigned short>) return FixedString("unsigned short");
  else if constexpr (std::is_same_v<T, int>) return FixedString("int");
  else if constexpr (std::is_same_v<T, unsigned>) return FixedString("unsigned int");
  else if constexpr (std::is_same_v<T, long>) return FixedString("long");
  else if constexpr (std::is_same_v<T, unsigned long>) return FixedString("unsigned long");
  else if constexpr (std::is_same_v<T, long long>) return FixedString("long long");
  else if constexpr (std::is_same_v<T, unsigned long long>)
    return FixedString("unsigned long long");
  else return user_type_name<T>();
}

template <class T>
struct TypeInfo<T, std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool>>> {
  static constexpr auto cpp = integer_cpp_name<T>();
  static constexpr auto desc = FixedString(std::is_signed_v<T> ? "i" : "u") +
                               fixed_number<8 * sizeof(T)>() + FixedString(":") + cpp;
};

template <class T>
struct TypeInfo<T, std::enable_if_t<std::is_floating_point_v<T>>> {
  static constexpr auto cpp = [] {
    if constexpr (std::is_same_v<T, float>) return FixedString("float");
    else if constexpr (std::is_same_v<T, double>) return FixedString("double");
    else return FixedString("long double");
  }();
  static constexpr auto desc =
      FixedString("f") + fixed_number<8 * sizeof(T)>() + FixedString(":") + cpp;
};

template <>
struct TypeInfo<std::string> {
  static constexpr auto cpp = FixedString("std::string");
  static constexpr auto desc = FixedString("string");
};

template <class T>
struct TypeInfo<std::vector<T>> {
  static constexpr auto cpp = FixedString("std::vector<") + TypeInfo<T>::cpp + FixedString(">");
  static constexpr auto desc = FixedString("vector<") + TypeInfo<T>::desc + FixedString(">");
};

template <class T, std::size_t N>
struct TypeInfo<std::array<T, N>> {
  static constexpr auto cpp = FixedString("std::array<") + TypeInfo<T>::cpp + FixedString(", ") +
                              fixed_number<N>() + FixedString(">");
  static constexpr auto desc = FixedString("array<") + TypeInfo<T>::desc + FixedString(",") +
                               fixed_number<N>() + FixedString(">");
};

template <class K, class V>
struct TypeInfo<std::map<K, V>> {
  static constexpr auto cpp = FixedString("std::map<") + TypeInfo<K>::cpp + FixedString(", ") +
                              TypeInfo<V>::cpp + FixedString(">");
  static constexpr auto desc = FixedString("map<") + TypeInfo<K>::desc + FixedString(",") +
                               TypeInfo<V>::desc + FixedString(">");
};

template <class K, class V>
struct TypeInfo<std::unordered_map<K, V>> {
  static constexpr auto cpp = FixedString("std::unordered_map<") + TypeInfo<K>::cpp +
                              FixedString(", ") + TypeInfo<V>::cpp + FixedString(">");
  static constexpr auto desc = TypeInfo<std::map<K, V>>::desc;
};

template <class T>
struct TypeInfo<std::optional<T>> {
  static constexpr auto cpp = FixedString("std::optional<") + TypeInfo<T>::cpp + FixedString(">");
  static constexpr auto desc = FixedString("optional<") + TypeInfo<T>::desc + FixedString(">");
};

// "A, B, C" (Sep ", ") or "A,B,C" (Sep ",") of Parts.
template <FixedString Sep, auto... Parts>
constexpr auto join_fixed() {
  if constexpr (sizeof...(Parts) == 0) {
    return FixedString("");
  } else {
    return [](auto first, auto... rest) { return (first + ... + (Sep + rest)); }(Parts...);
  }
}

template <class... Ts>
struct TypeInfo<std::tuple<Ts...>> {
  static constexpr auto cpp = FixedString("std::tuple<") +
                              join_fixed<FixedString(", "), TypeInfo<Ts>::cpp...>() +
                              FixedString(">");
  static constexpr auto desc = FixedString("tuple<") +
                               join_fixed<FixedString(","), TypeInfo<Ts>::desc...>() +
                               FixedString(">");
};

template <class A, class B>
struct TypeInfo<std::pair<A, B>> {
  static constexpr auto cpp = FixedString("std::pair<") + TypeInfo<A>::cpp + FixedString(", ") +
                              TypeInfo<B>::cpp + FixedString(">");
  static constexpr auto desc = TypeInfo<std::tuple<A, B>>::desc;
};

// One `.uni_exports` record: "uni-export-v1\nNAME\nSIGNATURE\nRESULT\nPARAM...\0".
template <class F>
struct ExportInfo;

template <class R, class... Args>
struct ExportInfo<R (*)(Args...)> {
  template <FixedString Name>
  static constexpr auto signature() {
    return TypeInfo<std::remove_cvref_t<R>>::cpp + FixedString(" ") + Name + FixedString("(") +
           join_fixed<FixedString(", "), TypeInfo<std::remove_cvref_t<Args>>::cpp...>() +
           FixedString(")");
  }
  template <FixedString Name>
  static constexpr auto record() {
    constexpr auto text =
        FixedString(UNI_EXPORT_RECORD_MAGIC "\n") + Name + FixedString("\n") + signature<Name>() +
        FixedString("\n") + TypeInfo<std::remove_cvref_t<R>>::desc +
        (FixedString("") + ... + (FixedString("\n") + TypeInfo<std::remove_cvref_t<Args>>::desc));
    std::array<char, text.size() + 1> bytes{};  // ends with the NUL that closes the record
    for (std::size_t i = 0; i < text.size(); ++i) bytes[i] = text.chars[i];
    return bytes;
  }
};

template <class R, class... Args>
struct ExportInfo<R (*)(Args...) noexcept> : ExportInfo<R (*)(Args...)> {};

// A service that can be handed over (uni/service.hpp): its context is no
// argument, so PARAM lines list only Args; the signature names it first,
// which is how a reader tells such a service (docs/protocol.md §15.5).
template <class R, class... Args>
struct ExportInfo<R (*)(::uni::ServiceContext&, Args...)> {
  template <FixedString Name>
  static constexpr auto signature() {
    constexpr auto params =
        join_fixed<FixedString(", "), TypeInfo<std::remove_cvref_t<Args>>::cpp...>();
    if constexpr (sizeof...(Args) == 0)
      return TypeInfo<std::remove_cvref_t<R>>::cpp + FixedString(" ") + Name +
             FixedString("(uni::ServiceContext&)");
    else
      return TypeInfo<std::remove_cvref_t<R>>::cpp + FixedString(" ") + Name +
             FixedString("(uni::ServiceContext&, ") + params + FixedString(")");
  }
  template <FixedString Name>
  static constexpr auto record() {
    constexpr auto text =
        FixedString(UNI_EXPORT_RECORD_MAGIC "\n") + Name + FixedString("\n") + signature<Name>() +
        FixedString("\n") + TypeInfo<std::remove_cvref_t<R>>::desc +
        (FixedString("") + ... + (FixedString("\n") + TypeInfo<std::remove_cvref_t<Args>>::desc));
    std::array<char, text.size() + 1> bytes{};
    for (std::size_t i = 0; i < text.size(); ++i) bytes[i] = text.chars[i];
    return bytes;
  }
};

}  // namespace uni::detail
#pragma GCC visibility pop
