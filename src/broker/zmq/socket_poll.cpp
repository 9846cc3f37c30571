// zmq_poll over the seam's poll set (see socket_poll.hpp).
#include "broker/zmq/socket_poll.hpp"

#include <zmq.h>

#include "broker/zmq/transport.hpp"

namespace uni::broker {

static_assert(kPollIn == ZMQ_POLLIN && kPollOut == ZMQ_POLLOUT && kPollErr == ZMQ_POLLERR,
              "the seam's poll events are libzmq's, so that they pass through unchanged");

void poll_sockets(std::vector<PollItem>& items, std::chrono::milliseconds timeout) {
  // Copied into libzmq's own item type (one buffer per thread, reused):
  // a few dozen items at most, next to a system call.
  thread_local std::vector<zmq_pollitem_t> zmq_items;
  zmq_items.resize(items.size());
  for (std::size_t i = 0; i < items.size(); ++i)
    zmq_items[i] = {items[i].handle, items[i].fd, items[i].events, 0};
  proto::poll(zmq_items.data(), zmq_items.size(), timeout);
  for (std::size_t i = 0; i < items.size(); ++i) items[i].revents = zmq_items[i].revents;
}

}  // namespace uni::broker
