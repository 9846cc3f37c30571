// Reads the trailer of a Python function's module file (python_function_file.hpp).
#include "common/python_function_file.hpp"

#include <cstdint>

namespace uni {

namespace {
constexpr std::string_view kMagic = "uni-python-fn-v1";
constexpr std::size_t kTrailer = 8 + kMagic.size();  // the payload's size, then the magic
}  // namespace

std::optional<PythonFunctionFile> read_python_function_file(std::string_view bytes) {
  if (bytes.size() < kTrailer || !bytes.ends_with(kMagic)) return std::nullopt;
  std::string_view size_bytes = bytes.substr(bytes.size() - kTrailer, 8);
  std::uint64_t size = 0;
  for (int i = 7; i >= 0; --i) size = (size << 8) | static_cast<unsigned char>(size_bytes[i]);
  if (size > bytes.size() - kTrailer) return std::nullopt;
  std::string_view payload = bytes.substr(bytes.size() - kTrailer - size, size);
  std::size_t nul = payload.find('\0');
  if (nul == std::string_view::npos || nul == 0) return std::nullopt;
  return PythonFunctionFile{std::string(payload.substr(0, nul)), payload.size() - nul - 1};
}

}  // namespace uni
