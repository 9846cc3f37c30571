// A module loaded into this process with dlopen: its export table, and the
// call of one export with msgpack arguments. Used by executors, by thread
// isolation and by `uni inspect`. Two builds of a module are two files (named
// by hash) and load side by side; RTLD_LOCAL keeps their symbols apart.
#pragma once

#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

#include "common/hash.hpp"
#include "common/unique_fd.hpp"
#include "proto/messages.hpp"
#include "uni/detail/module_abi.hpp"
#include "uni/detail/service_abi.hpp"

namespace uni::worker {

class ModuleLoadError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class LoadedModule {
 public:
  // dlopen()s the file and checks its entry point, ABI version and platform.
  // Throws ModuleLoadError with the loader's own words (missing library, ...).
  static std::unique_ptr<LoadedModule> open(const std::string& path);
  // Loads a module's sealed image (module_image.hpp) after checking it again
  // (sealed, and hashing to `expected`), through /proc/self/fd. The image
  // stays open while the module is loaded, so that its name is never that
  // of another module (the loader matches objects by name).
  static std::unique_ptr<LoadedModule> open_image(UniqueFd image, const ModuleHash& expected);
  ~LoadedModule();
  LoadedModule(const LoadedModule&) = delete;
  LoadedModule& operator=(const LoadedModule&) = delete;

  const uni_module_table& table() const { return *table_; }
  const uni_export* find(std::string_view name) const;
  std::string export_names() const;  // "factorial, ident"
  // The invoker that lends export `name` a ServiceContext, if it takes one
  // (uni/service.hpp: a service that can be handed over); else null.
  uni_service_invoke_fn find_service(std::string_view name) const;

 private:
  LoadedModule(void* handle, const uni_module_table* table, const uni_service_table* services)
      : handle_(handle), table_(table), services_(services) {}
  static std::unique_ptr<LoadedModule> load(const std::string& path);
  void* handle_;
  UniqueFd image_;  // open_image(): what handle_ was loaded from
  const uni_module_table* table_;
  const uni_service_table* services_;  // null: a module without services that take a context
};

struct Outcome {
  proto::Status status = proto::Status::kOk;
  std::string payload;  // msgpack result, or the error text
  // A service handed over its state and descriptors (to the host) and
  // unwound: no result; status and payload are unset.
  bool handed_over = false;
};

// Calls `function` with msgpack `args`. Never throws: every failure is an Outcome.
Outcome invoke(const LoadedModule& module, std::string_view function, std::string_view args);

// Calls `function`, an export that find_service() gave `service` for, with
// `host` for its ServiceContext. Never throws.
Outcome invoke_service(const LoadedModule& module, std::string_view function,
                       uni_service_invoke_fn service, std::string_view args,
                       const uni_service_host& host);

}  // namespace uni::worker
