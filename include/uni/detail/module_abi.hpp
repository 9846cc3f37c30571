// The binary contract between a uni module (.so) and the process that loads it.
// It is plain C so that the table can be read through one dlsym() whatever the
// C++ ABI tags of the module's functions. Changing any of it means raising
// UNI_MODULE_ABI_VERSION.
#pragma once

#include <cstddef>
#include <cstdint>

#define UNI_MODULE_ABI_VERSION 1u
// The one symbol a loader looks up (extern "C", so no mangling).
#define UNI_MODULE_ENTRY_SYMBOL "uni_module_v1"
// ELF section holding the platform tag, readable without loading the module.
#define UNI_PLATFORM_SECTION ".uni_platform"
// ELF section describing each export (name, signature, type descriptors),
// also readable without loading the module; format in docs/protocol.md §15.5.
#define UNI_EXPORTS_SECTION ".uni_exports"
// First line of each record in that section; a reader skips records of other versions.
#define UNI_EXPORT_RECORD_MAGIC "uni-export-v1"
// A record of its own in that section (no newline): the module was built
// with a header that writes the section, so none else means no UNI_EXPORT.
#define UNI_EXPORTS_PRESENT_MARK "uni-exports-present"

extern "C" {

// Outcome of one invocation, passed to the loader's emit callback.
enum uni_invoke_status : int {
  UNI_INVOKE_OK = 0,        // data: msgpack encoding of the return value (nil for void)
  UNI_INVOKE_BAD_ARGS = 1,  // data: message naming the argument and the expected type
  UNI_INVOKE_THREW = 2,     // data: the exception's what()
  // Only from a service invoker (service_abi.hpp): the service handed over
  // its state and descriptors and unwound; no data.
  UNI_INVOKE_HANDED_OVER = 3,
};

// Called exactly once per invocation. The data is only valid during the call.
typedef void (*uni_emit_fn)(void* ctx, int status, const char* data, std::size_t size);

// Decodes msgpack args (an array), calls the function, reports through emit.
// Never throws.
typedef void (*uni_invoke_fn)(const char* args, std::size_t size, void* ctx, uni_emit_fn emit);

struct uni_export {
  const char* name;       // as written in UNI_EXPORT(name)
  const char* signature;  // e.g. "unsigned long factorial(int)"
  uni_invoke_fn invoke;
  const void* address;  // the exported function itself, for matching on the boss side
};

struct uni_module_table {
  std::uint32_t abi_version;  // UNI_MODULE_ABI_VERSION of the module's build
  const char* platform;       // see uni::detail::platform_tag()
  std::size_t count;
  const uni_export* exports;
};

typedef const uni_module_table* (*uni_module_entry_fn)(void);
}
