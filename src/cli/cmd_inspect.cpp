// `uni inspect MODULE.so`: what a module offers, read the way a worker reads it.
#include <cstdio>

#include "cli/commands.hpp"
#include "common/module_file.hpp"
#include "worker/module_loader.hpp"

namespace uni::cli {

void add_inspect_command(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand("inspect", "print a module's hash, platform and functions");
  auto path = std::make_shared<std::string>();
  cmd->add_option("MODULE", *path, "module file (.so)")->required();
  cmd->callback([=, &exit_code] {
    try {
      ModuleFile file = ModuleFile::load(*path);
      auto module = worker::LoadedModule::open(*path);
      std::printf("module:   %s\nhash:     %s\nplatform: %s\nsize:     %zu bytes\nfunctions:\n",
                  path->c_str(), file.hash.hex().c_str(), file.platform.c_str(), file.bytes.size());
      const uni_module_table& table = module->table();
      for (std::size_t i = 0; i < table.count; ++i)
        std::printf("  %s\n", table.exports[i].signature);
      exit_code = kExitOk;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "uni inspect: %s\n", e.what());
      exit_code = kExitUsage;
    }
  });
}

}  // namespace uni::cli
