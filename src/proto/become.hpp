// BECOME and BECOME_REPLY (docs/protocol.md 7.21, 7.22): a running service
// is asked to take on new code, keeping its id, its state and its
// connections, and the answer. The boss -> manager and manager -> worker
// requests share one layout; so do the two replies.
#pragma once

#include <cstdint>
#include <string>

#include "common/hash.hpp"
#include "proto/messages.hpp"

namespace uni::proto {

// How long a service is given to hand over when the boss does not say.
inline constexpr std::uint32_t kDefaultBecomeTimeoutMs = 10000;

struct BecomeRequest {
  std::uint64_t request = 0;  // chosen by the sender; its reply carries it back
  TaskId service;
  ModuleHash module;
  std::string function;
  // The running version must hand over within this; otherwise the request
  // is withdrawn and it keeps running. 0: kDefaultBecomeTimeoutMs.
  std::uint32_t timeout_ms = kDefaultBecomeTimeoutMs;
};

struct BecomeReply {
  std::uint64_t request = 0;
  TaskId service;
  bool ok = false;
  // Not ok: why. The service runs on as before (its old version resumed, or
  // it was never asked).
  std::string text;
  // From the old version's hand-over to the new version's take-over.
  std::uint64_t handover_ns = 0;
  // Manager -> boss: how many becomes the service has gone through, this one
  // included. Worker -> manager: 0.
  std::uint32_t becomes = 0;
};

std::string encode_become(const BecomeRequest& request);
std::string encode_become_reply(const BecomeReply& reply);
// Read a received BECOME / BECOME_REPLY; throw DecodeError naming the field.
BecomeRequest read_become(const Message& m);
BecomeReply read_become_reply(const Message& m);

}  // namespace uni::proto
