// What the poll loops above the seam wait on, in the seam's own terms: the
// client's I/O thread and the worker's supervisor put their descriptors and
// their link's items into one set of PollItems, and the link waits on it
// (BossLink::poll, WorkerLink::poll), since only the link knows what its own
// items are. No transport's header is needed to build or read the set.
#pragma once

#include <chrono>
#include <cstddef>

namespace uni::broker {

// The events a poll item asks for and is told of.
inline constexpr short kPollIn = 1;
inline constexpr short kPollOut = 2;
inline constexpr short kPollErr = 4;  // an error on the descriptor, or its peer hung up

// A descriptor (`fd`; a negative one is skipped), or an object of a link's
// transport that is not a descriptor (`handle`, opaque here and read only by
// the link that added it: a ZeroMQ socket), with the events it waits for
// and, after a poll, those that happened.
struct PollItem {
  void* handle = nullptr;
  int fd = -1;
  short events = 0;
  short revents = 0;
};

// Waits up to `timeout` for one of `items`, descriptors all (no handle), to
// be ready, and fills in every revents. A signal that interrupts the wait
// counts as nothing ready (the caller's loop checks its stop flag next).
// What a link whose items are descriptors (eventfds) polls with.
void poll_descriptors(PollItem* items, std::size_t count, std::chrono::milliseconds timeout);

}  // namespace uni::broker
