// A module's bytes as they are loaded: copied into a memfd that is sealed
// against every change and hashed only after sealing, so that what an
// executor loads is exactly what was verified, whatever happens to the cache
// file afterwards (a task that rewrites it in place or renames other bytes
// over it changes nothing already sealed). The worker makes one image per
// module and hands the memfd to executors over their channel; they check it
// again (sealed, same hash) and dlopen it through /proc/self/fd.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/hash.hpp"
#include "common/unique_fd.hpp"

namespace uni::worker {

class ModuleImage {
 public:
  ModuleImage() = default;

  // Copies the whole of `file` (read from offset 0) into a sealed memfd and
  // checks that it hashes to `expected`. On failure returns an empty image
  // and sets `error` ("its bytes hash to 0123456789ab", or the system error).
  static ModuleImage from_file(int file, const ModuleHash& expected, std::string& error);
  // The same from bytes in memory (a module just fetched and verified).
  static ModuleImage from_bytes(std::string_view bytes, const ModuleHash& expected,
                                std::string& error);

  // Whether `fd` is a memfd sealed against writes, growth and shrinking whose
  // bytes hash to `expected`: "" if so, else why not.
  static std::string verify(int fd, const ModuleHash& expected);

  explicit operator bool() const { return static_cast<bool>(fd_); }
  int fd() const { return fd_.get(); }
  std::uint64_t size() const { return size_; }
  // The bytes, read back from the memfd (to restore a tampered cache file).
  std::string bytes() const;

 private:
  ModuleImage(UniqueFd fd, std::uint64_t size) : fd_(std::move(fd)), size_(size) {}
  static ModuleImage seal_and_check(UniqueFd memfd, std::uint64_t size, const ModuleHash& expected,
                                    std::string& error);
  UniqueFd fd_;
  std::uint64_t size_ = 0;
};

}  // namespace uni::worker
