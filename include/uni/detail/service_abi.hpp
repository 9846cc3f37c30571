// The binary contract between a module's services and the executor that runs
// them, for `become` (a running service hands its state and descriptors to
// new code). Plain C, like module_abi.hpp, and additive to it: a module that
// has services that can be handed over also exports UNI_SERVICE_ENTRY_SYMBOL;
// a loader that does not look it up runs those services as plain functions
// that are never asked to hand over. Changing any of it means raising
// UNI_SERVICE_ABI_VERSION. Format in docs/protocol.md §15.6.
#pragma once

#include <cstddef>
#include <cstdint>

#include "uni/detail/module_abi.hpp"

#define UNI_SERVICE_ABI_VERSION 1u
// The second, optional entry point of a module (extern "C").
#define UNI_SERVICE_ENTRY_SYMBOL "uni_services_v1"

extern "C" {

// What the executor lends one run of a service. Valid for the whole call of
// the service invoker; the callbacks are called on the thread of that call.
struct uni_service_host {
  std::uint32_t abi_version;  // UNI_SERVICE_ABI_VERSION of the executor
  // Readable (POLLIN) while a hand-over is requested; -1 when this run can
  // never be handed over. Owned by the executor: neither read nor closed.
  int handover_fd;
  // Set when this run continues a service (started by a become, or resumed
  // after a failed one): the state its predecessor handed over (msgpack),
  // and its descriptors. prior_state is null for a fresh start.
  const char* prior_state;
  std::size_t prior_state_size;
  const int* prior_fds;
  std::size_t prior_fd_count;
  void* self;  // passed back to the callbacks
  // 1 while a hand-over is requested and not withdrawn, else 0. No system call.
  int (*requested)(void* self);
  // The run decoded the prior state: the prior descriptors are its own from
  // now on, and a failure of this run no longer brings its predecessor back.
  void (*took_over)(void* self);
  // The run hands over: its state (msgpack) and duplicates of the descriptors
  // it keeps, which belong to the executor from this call on. Called by the
  // invoker just before it emits UNI_INVOKE_HANDED_OVER.
  void (*handing_over)(void* self, const char* state, std::size_t size, const int* fds,
                       std::size_t fd_count);
};

// Like uni_invoke_fn, with the host. Emits exactly once: OK, BAD_ARGS or THREW
// as a plain invoker does, or UNI_INVOKE_HANDED_OVER (no data) after calling
// host->handing_over. A null host runs the service as a plain function.
typedef void (*uni_service_invoke_fn)(const char* args, std::size_t size,
                                      const uni_service_host* host, void* ctx, uni_emit_fn emit);

struct uni_service_export {
  const char* name;  // the name of an export of the module's uni_module_table
  uni_service_invoke_fn invoke;
};

struct uni_service_table {
  std::uint32_t abi_version;  // UNI_SERVICE_ABI_VERSION of the module's build
  std::size_t count;
  const uni_service_export* exports;
};

typedef const uni_service_table* (*uni_service_entry_fn)(void);
}
