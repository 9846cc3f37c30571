// Many workers from one thread of the bench process: each is a CURVE DEALER
// with its own routing id that speaks the worker side of the protocol
// (HELLO role "worker", TASKS -> RESULT, heartbeats), like
// src/worker/supervisor.cpp but with an executor of zero cost: an `ident`
// task's result (its argument, as msgpack) is sent as soon as the TASKS
// message is read, all results of one TASKS message in one RESULT message.
// This measures what the manager does with N connected workers, without the
// CPU of N real worker processes on a 2-core machine.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "common/keys.hpp"

namespace bench {

struct SimStats {
  std::uint64_t tasks = 0;            // tasks answered
  std::uint64_t tasks_messages = 0;   // TASKS messages received
  std::uint64_t result_messages = 0;  // RESULT messages sent
  std::uint64_t bad_args = 0;         // tasks whose args were not [int]
};

class SimulatedWorkers {
 public:
  // Connects `count` workers of `capacity` credit each (a real 1-slot
  // worker grants 2: its slot and one prefetched task) and waits for every
  // WELCOME. Throws std::runtime_error if they do not all get one in time.
  SimulatedWorkers(const uni::CurveKeys& keys, const std::string& endpoint, std::size_t count,
                   std::uint32_t capacity = 2,
                   std::chrono::milliseconds timeout = std::chrono::milliseconds(60000));
  ~SimulatedWorkers();  // BYE from each, then closes
  SimulatedWorkers(const SimulatedWorkers&) = delete;
  SimulatedWorkers& operator=(const SimulatedWorkers&) = delete;

  SimStats stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace bench
