// A module for the NATS fault tests: its argument back after a delay, so that
// a map is slow enough to break things in the middle of, and its results show
// their order.
#include <uni/module.hpp>

#include <chrono>
#include <cstdint>
#include <thread>

std::int64_t slow_ident(std::int64_t x, int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  return x;
}

UNI_EXPORT(slow_ident);
