// An eventfd one thread signals to wake another that polls: the NATS
// engines' threads and their polling thread, the manager's loop (stop,
// reload), and the threads of the ZAP handler, the handshake guard and the
// HTTP server (stop). The poller adds fd() to its poll set and calls drain()
// once it wakes.
#pragma once

#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdint>
#include <system_error>

#include "common/unique_fd.hpp"

namespace uni {

class WakeFd {
 public:
  WakeFd() : fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
    if (!fd_) throw std::system_error(errno, std::generic_category(), "eventfd");
  }
  int fd() const { return fd_.get(); }
  void signal() const {
    std::uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(fd_.get(), &one, sizeof one);
  }
  void drain() const {
    std::uint64_t count;
    [[maybe_unused]] ssize_t n = ::read(fd_.get(), &count, sizeof count);
  }

 private:
  UniqueFd fd_;
};

}  // namespace uni
