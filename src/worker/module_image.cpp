// Sealed, verified module images in memfds (see module_image.hpp).
#include "worker/module_image.hpp"

#include <fcntl.h>
#include <sodium.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace uni::worker {

namespace {

constexpr unsigned kSeals = F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE;
constexpr unsigned kNeededSeals = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE;

std::string system_error(const char* what) {
  return std::string(what) + ": " + std::strerror(errno);
}

UniqueFd new_memfd(const ModuleHash& hash) {
  std::string name = "uni-module-" + hash.hex().substr(0, 12);
  return UniqueFd(::memfd_create(name.c_str(), MFD_CLOEXEC | MFD_ALLOW_SEALING));
}

bool write_all_at(int fd, const char* data, std::size_t size, off_t offset) {
  while (size > 0) {
    ssize_t n = ::pwrite(fd, data, size, offset);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    size -= static_cast<std::size_t>(n);
    offset += n;
  }
  return true;
}

// The hash of the first `size` bytes of `fd`, read through a private
// read-only mapping. Returns false (errno set) if it cannot be mapped.
bool hash_of(int fd, std::uint64_t size, ModuleHash& out) {
  crypto_generichash_state state;
  crypto_generichash_init(&state, nullptr, 0, out.bytes.size());
  if (size > 0) {
    void* map = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) return false;
    crypto_generichash_update(&state, static_cast<const unsigned char*>(map), size);
    ::munmap(map, size);
  }
  crypto_generichash_final(&state, out.bytes.data(), out.bytes.size());
  return true;
}

}  // namespace

ModuleImage ModuleImage::seal_and_check(UniqueFd memfd, std::uint64_t size,
                                        const ModuleHash& expected, std::string& error) {
  // Sealed first, hashed after: the bytes hashed are the bytes loaded.
  if (::fcntl(memfd.get(), F_ADD_SEALS, kSeals) != 0) {
    error = system_error("cannot seal the module image");
    return {};
  }
  ModuleHash actual;
  if (!hash_of(memfd.get(), size, actual)) {
    error = system_error("cannot read the module image");
    return {};
  }
  if (actual != expected) {
    error = "its bytes hash to " + actual.hex().substr(0, 12);
    return {};
  }
  return ModuleImage(std::move(memfd), size);
}

ModuleImage ModuleImage::from_file(int file, const ModuleHash& expected, std::string& error) {
  struct stat st {};
  if (::fstat(file, &st) != 0) {
    error = system_error("cannot stat the cache file");
    return {};
  }
  if (!S_ISREG(st.st_mode)) {
    error = "it is not a regular file";
    return {};
  }
  UniqueFd memfd = new_memfd(expected);
  if (!memfd) {
    error = system_error("memfd_create");
    return {};
  }
  // Copied rather than mapped: the file may change under us, the copy not.
  std::uint64_t size = 0;
  char buffer[1 << 16];
  for (;;) {
    ssize_t n = ::pread(file, buffer, sizeof(buffer), static_cast<off_t>(size));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      error = system_error("cannot read the cache file");
      return {};
    }
    if (n == 0) break;
    if (!write_all_at(memfd.get(), buffer, static_cast<std::size_t>(n), static_cast<off_t>(size))) {
      error = system_error("cannot fill the module image");
      return {};
    }
    size += static_cast<std::uint64_t>(n);
  }
  return seal_and_check(std::move(memfd), size, expected, error);
}

ModuleImage ModuleImage::from_bytes(std::string_view bytes, const ModuleHash& expected,
                                    std::string& error) {
  UniqueFd memfd = new_memfd(expected);
  if (!memfd) {
    error = system_error("memfd_create");
    return {};
  }
  if (!write_all_at(memfd.get(), bytes.data(), bytes.size(), 0)) {
    error = system_error("cannot fill the module image");
    return {};
  }
  return seal_and_check(std::move(memfd), bytes.size(), expected, error);
}

std::string ModuleImage::verify(int fd, const ModuleHash& expected) {
  int seals = ::fcntl(fd, F_GET_SEALS);
  if (seals < 0) return system_error("the module image is not a sealed memfd");
  if ((static_cast<unsigned>(seals) & kNeededSeals) != kNeededSeals)
    return "the module image is not sealed against writes";
  struct stat st {};
  if (::fstat(fd, &st) != 0) return system_error("cannot stat the module image");
  ModuleHash actual;
  if (!hash_of(fd, static_cast<std::uint64_t>(st.st_size), actual))
    return system_error("cannot read the module image");
  if (actual != expected)
    return "the module image of " + expected.hex().substr(0, 12) + " hashes to " +
           actual.hex().substr(0, 12);
  return {};
}

std::string ModuleImage::bytes() const {
  std::string out(size_, '\0');
  std::size_t done = 0;
  while (done < out.size()) {
    ssize_t n = ::pread(fd_.get(), out.data() + done, out.size() - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return {};
    done += static_cast<std::size_t>(n);
  }
  return out;
}

}  // namespace uni::worker
