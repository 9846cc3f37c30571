// The C++ spelling of a type known only at run time (an exception of a type
// the module does not name), through the C++ ABI's demangler. Only modules
// need it (uni/module.hpp): a boss spells its types at compile time.
#pragma once

#include <cxxabi.h>

#include <cstdlib>
#include <memory>
#include <string>

// Declared here, exported by libuni-client.so (built with hidden visibility).
#pragma GCC visibility push(default)
namespace uni::detail {

inline std::string demangle(const char* mangled) {
  int status = 0;
  std::unique_ptr<char, decltype(&std::free)> out(
      abi::__cxa_demangle(mangled, nullptr, nullptr, &status), &std::free);
  return status == 0 && out ? std::string(out.get()) : std::string(mangled);
}

}  // namespace uni::detail
#pragma GCC visibility pop
