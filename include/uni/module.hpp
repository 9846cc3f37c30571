// uni/module.hpp — write functions that a uni cluster can run.
//
// A module is a shared object whose source includes this header and marks the
// functions it offers with UNI_EXPORT:
//
//   #include <uni/module.hpp>
//   std::uint64_t factorial(int n) { ... }
//   UNI_EXPORT(factorial);
//
// Build it with the CMake helper `uni_add_module(factorial factorial.cpp)` or by
// hand:
//   g++ -std=c++20 -O2 -shared -fPIC -fno-gnu-unique -I include mod.cpp -o libmod.so
// (-fno-gnu-unique lets two builds of one module live side by side in a worker).
//
// Parameter and return types: integers, floating point, bool, std::string, and
// std::vector, std::array, std::map, std::unordered_map, std::optional,
// std::tuple, std::pair of those, structs with MSGPACK_DEFINE, and void returns.
// Arguments arrive as msgpack and are checked before the call: a mismatch is a
// task error ("argument 2: expected integer, got string"), never a crash. An
// exception thrown by the function becomes a task error carrying its what().
//
// A service that can become new code while it runs takes a
// uni::ServiceContext& first (uni/service.hpp, included here).
//
// This header needs nothing but msgpack-cxx's headers.
#pragma once

#include <deque>
#include <exception>
#include <new>
#include <string>
#include <vector>

#include "uni/detail/demangle.hpp"
#include "uni/detail/export_info.hpp"
#include "uni/detail/module_abi.hpp"
#include "uni/detail/platform.hpp"
#include "uni/detail/service_abi.hpp"
#include "uni/detail/types.hpp"
#include "uni/service.hpp"

namespace uni::detail {

// The exports of the module being built. Hidden visibility gives every shared
// object its own registry even when a boss executable includes this header too.
class __attribute__((visibility("hidden"))) ExportRegistry {
 public:
  static ExportRegistry& instance() {
    static ExportRegistry registry;
    return registry;
  }

  // `service`: the invoker that lends the function a ServiceContext (a
  // function that takes one), else null.
  bool add(const char* name, std::string signature, uni_invoke_fn invoke, const void* address,
           uni_service_invoke_fn service = nullptr) {
    const std::string& stored = strings_.emplace_back(std::move(signature));
    exports_.push_back(uni_export{name, stored.c_str(), invoke, address});
    table_.count = exports_.size();
    table_.exports = exports_.data();
    if (service) {
      services_.push_back(uni_service_export{name, service});
      service_table_.count = services_.size();
      service_table_.exports = services_.data();
    }
    return true;
  }

  const uni_module_table* table() const { return &table_; }
  const uni_service_table* service_table() const { return &service_table_; }

 private:
  ExportRegistry() = default;
  std::deque<std::string> strings_;  // deque: c_str() pointers stay valid as it grows
  std::vector<uni_export> exports_;
  uni_module_table table_{UNI_MODULE_ABI_VERSION, UNI_PLATFORM_TAG, 0, nullptr};
  std::vector<uni_service_export> services_;
  uni_service_table service_table_{UNI_SERVICE_ABI_VERSION, 0, nullptr};
};

inline std::string current_exception_text() {
  try {
    throw;
  } catch (const std::bad_alloc& e) {
    return std::string("out of memory (") + e.what() + ")";
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    const std::type_info* type = abi::__cxa_current_exception_type();
    return "exception of type " + (type ? demangle(type->name()) : std::string("unknown"));
  }
}

// The body of every generated invoker: decodes the msgpack arguments into
// ArgsTuple, calls `call(args)`, emits the msgpack result or an error text.
// A service's hand-over (host set) goes to the host instead.
template <class Result, class ArgsTuple, class Call>
void invoke_with(const char* data, std::size_t size, void* ctx, uni_emit_fn emit,
                 const uni_service_host* host, Call call) noexcept {
  ArgsTuple args;
  try {
    msgpack::object_handle handle = unpack_checked(data, size);
    std::string error;
    if (!decode_arguments(handle.get(), args, error)) {
      emit(ctx, UNI_INVOKE_BAD_ARGS, error.data(), error.size());
      return;
    }
  } catch (const std::exception& e) {
    std::string error = std::string("arguments are not valid msgpack: ") + e.what();
    emit(ctx, UNI_INVOKE_BAD_ARGS, error.data(), error.size());
    return;
  }
  PackBuffer out;
  try {
    if constexpr (std::is_void_v<Result>) {
      call(std::move(args));
      Packer(out).pack_nil();
    } else {
      Packer(out).pack(call(std::move(args)));
    }
  } catch (const HandOver& handed) {
    if (host) {
      handed.deliver(*host);
      emit(ctx, UNI_INVOKE_HANDED_OVER, nullptr, 0);
    } else {  // hand_over() refuses to run without a host: not reached
      std::string error = "hand_over without an executor to hand over to";
      emit(ctx, UNI_INVOKE_THREW, error.data(), error.size());
    }
    return;
  } catch (...) {
    std::string error = current_exception_text();
    emit(ctx, UNI_INVOKE_THREW, error.data(), error.size());
    return;
  }
  emit(ctx, UNI_INVOKE_OK, out.data.data(), out.data.size());
}

// The invoker generated for one exported function: msgpack args in, msgpack
// result (or an error text) out through emit.
template <auto Fn>
void invoke(const char* data, std::size_t size, void* ctx, uni_emit_fn emit) noexcept {
  using Traits = FunctionTraits<decltype(Fn)>;
  invoke_with<typename Traits::Result, typename Traits::ArgsTuple>(
      data, size, ctx, emit, nullptr, [](auto&& args) { return std::apply(Fn, std::move(args)); });
}

// The invoker of a function that takes a ServiceContext first: the context
// lends it `host` (null: a plain run that is never asked to hand over).
template <auto Fn>
void invoke_service(const char* data, std::size_t size, const uni_service_host* host, void* ctx,
                    uni_emit_fn emit) noexcept {
  using Traits = ServiceTraits<decltype(Fn)>;
  ServiceContext context(host);
  invoke_with<typename Traits::Result, typename Traits::ArgsTuple>(
      data, size, ctx, emit, host, [&context](auto&& args) {
        return std::apply([&context](auto&&... a) { return Fn(context, std::move(a)...); },
                          std::move(args));
      });
}

// The same, as the plain invoker of the module's table (uni_invoke_fn).
template <auto Fn>
void invoke_service_plain(const char* data, std::size_t size, void* ctx,
                          uni_emit_fn emit) noexcept {
  invoke_service<Fn>(data, size, nullptr, ctx, emit);
}

template <auto Fn>
bool register_export(const char* name) {
  const void* address = reinterpret_cast<const void*>(Fn);
  if constexpr (ServiceTraits<decltype(Fn)>::takes_context) {
    return ExportRegistry::instance().add(name, ServiceTraits<decltype(Fn)>::signature(name),
                                          &invoke_service_plain<Fn>, address, &invoke_service<Fn>);
  } else {
    using Traits = FunctionTraits<decltype(Fn)>;
    return ExportRegistry::instance().add(name, Traits::signature(name), &invoke<Fn>, address);
  }
}

// The platform tag, also stored in its own ELF section so that a boss can read
// it from the file without loading the module.
[[gnu::used, gnu::section(UNI_PLATFORM_SECTION)]] inline constexpr char kModulePlatform[] =
    UNI_PLATFORM_TAG;

// A record in .uni_exports that every module built with this header has, so
// that a reader tells a module that exports nothing (no UNI_EXPORT) from one
// built before .uni_exports existed. Static, not inline: an inline variable
// is in a group of its own, which GCC refuses to mix with the records in one
// section; the copies (one per source file) are skipped by readers.
[[gnu::used, gnu::section(UNI_EXPORTS_SECTION)]] alignas(
    1) static constexpr char kExportsPresent[] = UNI_EXPORTS_PRESENT_MARK;

}  // namespace uni::detail

#define UNI_DETAIL_CAT2(a, b) a##b
#define UNI_DETAIL_CAT(a, b) UNI_DETAIL_CAT2(a, b)

// Offers `fn` (a non-overloaded, non-template function) to the cluster under
// the name as written. Use at namespace scope, once per function.
// Two things: a registration in the table the module's entry point returns
// (what a worker calls), and a record in the .uni_exports section, written at
// compile time (what `uni inspect` and other clients read without loading the
// module). alignas(1): the records are concatenated by the linker, and the
// compiler would otherwise pad large arrays for vectorisation.
#define UNI_EXPORT(fn)                                                              \
  [[maybe_unused]] static const bool UNI_DETAIL_CAT(uni_export_, __COUNTER__) =     \
      ::uni::detail::register_export<&fn>(#fn);                                     \
  [[gnu::used, gnu::section(UNI_EXPORTS_SECTION)]] alignas(1) static constexpr auto \
  UNI_DETAIL_CAT(uni_export_info_, __COUNTER__) =                                   \
      ::uni::detail::ExportInfo<decltype(&fn)>::record<::uni::detail::FixedString(#fn)>()

// The module's entry point. Weak, so a module of several sources that all
// include this header still links.
extern "C" __attribute__((weak, visibility("default"))) const uni_module_table* uni_module_v1() {
  return ::uni::detail::ExportRegistry::instance().table();
}

// The second entry point: the services that can be handed over (uni/service.hpp).
extern "C" __attribute__((weak, visibility("default"))) const uni_service_table* uni_services_v1() {
  return ::uni::detail::ExportRegistry::instance().service_table();
}
