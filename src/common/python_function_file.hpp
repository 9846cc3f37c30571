// A Python function's module file (docs/python.md): the Python runtime
// module's bytes, then the function's qualified name, a NUL and its
// cloudpickle, then that payload's size (u64, little-endian) and the magic
// "uni-python-fn-v1". The Python client writes it and the runtime
// (python/runtime/uni_python.cpp) reads it when loaded; `uni inspect` reads
// it here, from the bytes alone.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace uni {

struct PythonFunctionFile {
  std::string name;               // the function's qualified name: its tasks' function
  std::size_t pickled_bytes = 0;  // the size of its cloudpickle
};

// The function a module file carries, or nullopt when the bytes end with no
// well-formed trailer (the runtime's own file, or any C++ module).
std::optional<PythonFunctionFile> read_python_function_file(std::string_view bytes);

}  // namespace uni
