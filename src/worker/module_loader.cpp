// dlopen/dlsym of module files and invocation through the module table.
#include "worker/module_loader.hpp"

#include <dlfcn.h>

#include "uni/detail/platform.hpp"
#include "worker/module_image.hpp"

namespace uni::worker {

std::unique_ptr<LoadedModule> LoadedModule::open(const std::string& path) { return load(path); }

std::unique_ptr<LoadedModule> LoadedModule::open_image(UniqueFd image, const ModuleHash& expected) {
  if (!image) throw ModuleLoadError("cannot load module: its image did not arrive");
  if (std::string why = ModuleImage::verify(image.get(), expected); !why.empty())
    throw ModuleLoadError("cannot load module " + expected.hex().substr(0, 12) + ": " + why);
  std::unique_ptr<LoadedModule> module = load("/proc/self/fd/" + std::to_string(image.get()));
  module->image_ = std::move(image);
  return module;
}

std::unique_ptr<LoadedModule> LoadedModule::load(const std::string& path) {
  // RTLD_NOW: a missing symbol fails here, with the loader's message, rather
  // than as a crash in the middle of a task.
  void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char* error = ::dlerror();
    throw ModuleLoadError("cannot load module: " +
                          std::string(error ? error : "unknown dlopen error"));
  }
  auto entry = reinterpret_cast<uni_module_entry_fn>(::dlsym(handle, UNI_MODULE_ENTRY_SYMBOL));
  if (!entry) {
    ::dlclose(handle);
    throw ModuleLoadError("not a uni module: " + path +
                          " does not export " UNI_MODULE_ENTRY_SYMBOL);
  }
  const uni_module_table* table = entry();
  if (!table || table->abi_version != UNI_MODULE_ABI_VERSION) {
    ::dlclose(handle);
    throw ModuleLoadError("module ABI version " + std::to_string(table ? table->abi_version : 0) +
                          " is not supported (this worker loads version " +
                          std::to_string(UNI_MODULE_ABI_VERSION) + ")");
  }
  if (std::string_view(table->platform) != UNI_PLATFORM_TAG) {
    std::string platform = table->platform;
    ::dlclose(handle);
    throw ModuleLoadError("module built for platform " + platform +
                          ", this worker is " UNI_PLATFORM_TAG);
  }
  // The second entry point is optional: modules built before services could
  // be handed over, or without such services, run every function plainly.
  const uni_service_table* services = nullptr;
  if (auto service_entry =
          reinterpret_cast<uni_service_entry_fn>(::dlsym(handle, UNI_SERVICE_ENTRY_SYMBOL))) {
    services = service_entry();
    if (services && services->abi_version != UNI_SERVICE_ABI_VERSION) services = nullptr;
  }
  return std::unique_ptr<LoadedModule>(new LoadedModule(handle, table, services));
}

LoadedModule::~LoadedModule() {
  ::dlclose(handle_);
  if (!image_) return;
  // A module the loader keeps (RTLD_NODELETE, unique symbols) keeps its name
  // too: its descriptor stays open, or a module loaded later through the
  // same descriptor number would be taken for it.
  std::string name = "/proc/self/fd/" + std::to_string(image_.get());
  if (void* still = ::dlopen(name.c_str(), RTLD_LAZY | RTLD_NOLOAD)) {
    ::dlclose(still);
    [[maybe_unused]] int kept = image_.release();
  }
}

const uni_export* LoadedModule::find(std::string_view name) const {
  for (std::size_t i = 0; i < table_->count; ++i)
    if (name == table_->exports[i].name) return &table_->exports[i];
  return nullptr;
}

std::string LoadedModule::export_names() const {
  std::string out;
  for (std::size_t i = 0; i < table_->count; ++i) {
    if (!out.empty()) out += ", ";
    out += table_->exports[i].name;
  }
  return out.empty() ? "(nothing)" : out;
}

uni_service_invoke_fn LoadedModule::find_service(std::string_view name) const {
  if (!services_) return nullptr;
  for (std::size_t i = 0; i < services_->count; ++i)
    if (name == services_->exports[i].name) return services_->exports[i].invoke;
  return nullptr;
}

namespace {
void emit(void* ctx, int status, const char* data, std::size_t size) {
  auto* out = static_cast<Outcome*>(ctx);
  switch (status) {
    case UNI_INVOKE_OK: out->status = proto::Status::kOk; break;
    case UNI_INVOKE_BAD_ARGS: out->status = proto::Status::kBadArguments; break;
    case UNI_INVOKE_HANDED_OVER:
      out->handed_over = true;
      out->status = proto::Status::kOk;
      out->payload.clear();
      return;
    default: out->status = proto::Status::kException; break;
  }
  out->payload.assign(data, size);
}

void explain_bad_arguments(Outcome& out, std::string_view function, const uni_export& e) {
  if (out.status == proto::Status::kBadArguments)
    out.payload = std::string(function) + ": " + out.payload + " (signature: " + e.signature + ")";
}
}  // namespace

Outcome invoke(const LoadedModule& module, std::string_view function, std::string_view args) {
  const uni_export* e = module.find(function);
  if (!e)
    return {proto::Status::kUnknownFunction, "unknown function '" + std::string(function) +
                                                 "': the module exports " + module.export_names()};
  Outcome out;
  out.status = proto::Status::kException;
  out.payload = "the function returned without reporting a result";
  e->invoke(args.data(), args.size(), &out, &emit);
  explain_bad_arguments(out, function, *e);
  return out;
}

Outcome invoke_service(const LoadedModule& module, std::string_view function,
                       uni_service_invoke_fn service, std::string_view args,
                       const uni_service_host& host) {
  Outcome out;
  out.status = proto::Status::kException;
  out.payload = "the function returned without reporting a result";
  service(args.data(), args.size(), &host, &out, &emit);
  if (const uni_export* e = module.find(function)) explain_bad_arguments(out, function, *e);
  return out;
}

}  // namespace uni::worker
