// Puts runs of CHUNK messages (proto/chunks.hpp) back together, one run per
// peer, within the manager's limits: a message may not exceed --max-message
// (its further pieces are counted and dropped, not kept), and all the runs
// under way may not hold more than `max_total` bytes at once. A run that
// another message of the same peer interrupts, or that stays silent too
// long, is dropped.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

#include "manager/outbox.hpp"
#include "proto/chunks.hpp"

namespace uni::manager {

class ChunkAssembler {
 public:
  ChunkAssembler(std::uint64_t max_message, std::uint64_t max_total)
      : max_message_(max_message), max_total_(max_total) {}

  enum class Outcome {
    kPending,   // more pieces to come
    kComplete,  // `message` holds the whole message
    kTooLarge,  // the last piece of a message over --max-message
    kBusy,      // the last piece of a message refused because the runs under way held too much
  };
  struct Step {
    Outcome outcome = Outcome::kPending;
    std::string message;     // kComplete
    std::uint64_t size = 0;  // the message's size (kComplete, kTooLarge, kBusy)
    std::string head;        // kTooLarge, kBusy: its first bytes, to tell what it was
  };
  Step add(const PeerId& peer, const proto::Chunk& chunk, Clock::time_point now);

  // `peer` sent another message: a run of its that was under way is dropped.
  void interrupted(const PeerId& peer) {
    if (!runs_.empty()) drop(peer);
  }
  // Drops runs that received nothing for `idle`; returns how many.
  std::size_t expire(Clock::time_point now, std::chrono::milliseconds idle);

  bool empty() const { return runs_.empty(); }
  std::size_t runs() const { return runs_.size(); }
  std::uint64_t bytes() const { return bytes_; }

 private:
  static constexpr std::size_t kHeadBytes = 64;
  struct Run {
    std::string bytes;
    std::uint64_t size = 0;
    std::string head;
    Outcome refused = Outcome::kPending;  // kTooLarge or kBusy once refused
    Clock::time_point last;
  };
  void drop(const PeerId& peer);

  const std::uint64_t max_message_, max_total_;
  std::unordered_map<PeerId, Run> runs_;
  std::uint64_t bytes_ = 0;  // held by all runs
};

}  // namespace uni::manager
