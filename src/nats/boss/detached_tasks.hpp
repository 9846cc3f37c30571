// Tasks that outlive their boss, on NATS (`uni submit` and
// `uni result`): a submit stores the module (once, by hash) and the task in
// its platform's work-queue stream, both confirmed by the streams, and
// returns; any process later reads the task's result from UNI_RESULTS by its
// id (kept there for EngineConfig::result_max_age, 24 h by default). Nothing
// waits in memory: the boss, a worker and a NATS node may all die between.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "common/hash.hpp"
#include "nats/store/engine_config.hpp"
#include "proto/messages.hpp"

namespace uni::nats {

struct DetachedSubmission {
  ModuleHash module;
  std::string platform;
  std::string module_bytes;                    // stored unless the module store has it
  std::vector<std::string> module_signatures;  // stored with it (common/signing.hpp)
  std::string function;
  std::string args;  // msgpack array
  std::uint32_t timeout_ms = 0, wait_ms = 0;
  std::uint8_t max_attempts = 3;
};

// Returns the task's id (a fresh session, sequence 1) once the task is
// stored. Throws NatsError (kAuthFailed, kUnreachable, ...).
proto::TaskId submit_detached(const EngineConfig& config, const DetachedSubmission& submission);

// The stored result of `id`, waiting up to `wait` for it to arrive; nullopt
// if there is none by then (not finished, expired, or never submitted).
std::optional<proto::Result> detached_result(const EngineConfig& config, const proto::TaskId& id,
                                             std::chrono::milliseconds wait);

}  // namespace uni::nats
