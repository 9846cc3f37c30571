// A module file as a boss sees it before shipping it: its bytes, content hash
// and platform tag, checked to be an ELF shared object that exports the uni
// entry point, and the descriptions of its functions (.uni_exports). Only the
// ELF tables and those sections are read; no module code runs.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

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
  // Its signatures (common/signing.hpp) from PATH.sig beside it, if any:
  // they travel with the module for workers that trust their signers.
  std::vector<std::string> signatures;

  // Reads and checks the file. Throws ModuleFileError saying what is wrong
  // ("x.txt is not an ELF file", "y is an executable, not a shared object",
  // "z.so is not a uni module (no uni_module_v1: build it with uni/module.hpp)").
  static ModuleFile load(const std::string& path);
};

// The check behind ModuleFile::load, on bytes in memory. Returns the platform
// tag or throws ModuleFileError; `name` is used in messages.
std::string check_module_image(std::string_view image, const std::string& name);

// One exported function as UNI_EXPORT recorded it at compile time
// (docs/protocol.md §15.5): type descriptors such as "i32:int",
// "vector<string>", "user<5:Point>".
struct ExportDescription {
  std::string name;
  std::string signature;  // "int add(int, int)", as the worker's table spells it
  std::string result;
  std::vector<std::string> params;
};

struct ModuleExports {
  // False for a module built before .uni_exports existed: nothing is known
  // about its functions without loading it.
  bool described = false;
  std::vector<ExportDescription> functions;  // sorted by name
};

// Reads the .uni_exports section of a module image (one that passed
// check_module_image). Throws ModuleFileError on a malformed record; records
// of another format version are skipped.
ModuleExports read_module_exports(std::string_view image, const std::string& name);

}  // namespace uni
