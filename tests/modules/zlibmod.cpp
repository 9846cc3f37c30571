// zlibmod: a module that links a system library (zlib), to show that a
// shipped module's own dependencies load on the worker.
#include <zlib.h>

#include <cstdint>
#include <stdexcept>
#include <string>

#include <uni/module.hpp>

std::uint32_t crc(std::string data) {
  return static_cast<std::uint32_t>(
      ::crc32(0L, reinterpret_cast<const Bytef*>(data.data()), static_cast<uInt>(data.size())));
}

std::string compressed(std::string data) {
  uLongf size = ::compressBound(data.size());
  std::string out(size, '\0');
  if (::compress(reinterpret_cast<Bytef*>(out.data()), &size,
                 reinterpret_cast<const Bytef*>(data.data()), data.size()) != Z_OK)
    throw std::runtime_error("compress failed");
  out.resize(size);
  return out;
}

// Compresses and uncompresses; returns the data and the compressed size.
std::pair<std::string, std::uint64_t> roundtrip(std::string data) {
  std::string packed = compressed(data);
  uLongf size = data.size();
  std::string out(size, '\0');
  if (::uncompress(reinterpret_cast<Bytef*>(out.data()), &size,
                   reinterpret_cast<const Bytef*>(packed.data()), packed.size()) != Z_OK)
    throw std::runtime_error("uncompress failed");
  out.resize(size);
  return {out, packed.size()};
}

// Not "zlib_version": zlib.h defines that name as a macro.
std::string library_version() { return ::zlibVersion(); }

UNI_EXPORT(crc);
UNI_EXPORT(roundtrip);
UNI_EXPORT(library_version);
