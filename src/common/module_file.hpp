// A module file as a boss sees it before shipping it: its bytes, content hash
// and platform tag, checked to be an ELF shared object that exports the uni
// entry point. The check reads the ELF tables only; no module code runs.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

#include "common/hash.hpp"

namespace uni {

class ModuleFileError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct ModuleFile {
  std::string path;
  std::string bytes;
  ModuleHash hash;
  std::string platform;

  // Reads and checks the file. Throws ModuleFileError saying what is wrong
  // ("x.txt is not an ELF file", "y is an executable, not a shared object",
  // "z.so is not a uni module (no uni_module_v1: build it with uni/module.hpp)").
  static ModuleFile load(const std::string& path);
};

// The check behind ModuleFile::load, on bytes in memory. Returns the platform
// tag or throws ModuleFileError; `name` is used in messages.
std::string check_module_image(std::string_view image, const std::string& name);

}  // namespace uni
