// The seam's poll set (broker/poll.hpp) waited on with zmq_poll: the items a
// ZeroMQ link adds are sockets (PollItem::handle), which poll(2) cannot wait
// on — libzmq signals a socket's readiness through its own state, which
// zmq_poll reads. What ZmqBossLink::poll and ZmqWorkerLink::poll do.
#pragma once

#include <chrono>
#include <vector>

#include "broker/poll.hpp"

namespace uni::broker {

// Fills in every item's revents; a signal's interruption counts as nothing ready.
void poll_sockets(std::vector<PollItem>& items, std::chrono::milliseconds timeout);

}  // namespace uni::broker
