// Waiting on descriptors with poll(2) (see poll.hpp).
#include "broker/poll.hpp"

#include <poll.h>

#include <cerrno>
#include <system_error>
#include <vector>

namespace uni::broker {

void poll_descriptors(PollItem* items, std::size_t count, std::chrono::milliseconds timeout) {
  // The loops that call this poll a handful of descriptors: one buffer per
  // thread, reused, costs no allocation per turn.
  thread_local std::vector<pollfd> fds;
  fds.resize(count);
  for (std::size_t i = 0; i < count; ++i) {
    short events = 0;
    if (items[i].events & kPollIn) events |= POLLIN;
    if (items[i].events & kPollOut) events |= POLLOUT;
    fds[i] = {items[i].fd, events, 0};
  }
  const int ready = ::poll(fds.data(), fds.size(), static_cast<int>(timeout.count()));
  if (ready < 0 && errno != EINTR) throw std::system_error(errno, std::generic_category(), "poll");
  for (std::size_t i = 0; i < count; ++i) {
    const short got = ready < 0 ? 0 : fds[i].revents;
    short revents = 0;
    if (got & POLLIN) revents |= kPollIn;
    if (got & POLLOUT) revents |= kPollOut;
    // As zmq_poll reports a descriptor's hang-up or error, which the
    // supervisor's runners rely on to see a pipe's end.
    if (got & ~(POLLIN | POLLOUT | POLLPRI)) revents |= kPollErr;
    items[i].revents = revents;
  }
}

}  // namespace uni::broker
