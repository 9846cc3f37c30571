// `uni inspect MODULE.so [--json]`: what a module offers, read from the file
// alone (its ELF sections), never by loading it: a module's static
// initialisers do not run, so a module that crashes, exits or throws when
// loaded is inspected like any other. MODULE is a path, never a name for
// dlopen's search path.
#include <cstdio>

#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "common/json_msgpack.hpp"
#include "common/module_file.hpp"

namespace uni::cli {

namespace {

constexpr const char* kNotDescribed =
    "not recorded in the file (built with an older uni/module.hpp, before .uni_exports); rebuild "
    "it to list them";

void print_text(const ModuleFile& file, const ModuleExports& exports) {
  std::printf("module:   %s\nhash:     %s\nplatform: %s\nsize:     %zu bytes\n", file.path.c_str(),
              file.hash.hex().c_str(), file.platform.c_str(), file.bytes.size());
  if (!exports.described) {
    std::printf("functions: %s\n", kNotDescribed);
    return;
  }
  if (exports.functions.empty()) {
    std::printf("functions: none (the module has no UNI_EXPORT)\n");
    return;
  }
  std::printf("functions:\n");
  for (const ExportDescription& e : exports.functions) std::printf("  %s\n", e.signature.c_str());
}

void print_json(const ModuleFile& file, const ModuleExports& exports) {
  nlohmann::json out = {{"module", file.path},
                        {"hash", file.hash.hex()},
                        {"platform", file.platform},
                        {"size", file.bytes.size()}};
  if (exports.described) {
    nlohmann::json functions = nlohmann::json::array();
    for (const ExportDescription& e : exports.functions)
      functions.push_back({{"name", e.name},
                           {"signature", e.signature},
                           {"result", e.result},
                           {"params", e.params}});
    out["functions"] = std::move(functions);
  } else {
    out["functions"] = nullptr;
    out["note"] = std::string("functions ") + kNotDescribed;
  }
  std::printf("%s\n", dump_json(out).c_str());
}

}  // namespace

void add_inspect_command(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand(
      "inspect", "print a module's hash, platform and functions (read from the file, not run)");
  auto path = std::make_shared<std::string>();
  auto json = std::make_shared<bool>(false);
  cmd->add_option("MODULE", *path, "module file (.so); a path, never looked up elsewhere")
      ->required();
  cmd->add_flag("--json", *json, "print one JSON object (functions with their type descriptors)");
  cmd->callback([=, &exit_code] {
    try {
      ModuleFile file = ModuleFile::load(*path);
      ModuleExports exports = read_module_exports(file.bytes, file.path);
      if (*json) print_json(file, exports);
      else print_text(file, exports);
      exit_code = kExitOk;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "uni inspect: %s\n", e.what());
      exit_code = kExitUsage;
    }
  });
}

}  // namespace uni::cli
