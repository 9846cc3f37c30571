// FETCH_RESULT and KEPT_RESULT (docs/protocol.md 7.23, 7.24): anyone asks the
// built-in manager for the kept result of a task submitted with
// kFlagKeepResult (`uni result ID`), and is answered with the result, with
// "pending" (the task is held and not finished), or with "unknown" and why.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "proto/messages.hpp"

namespace uni::proto {

struct ResultQuery {
  std::uint64_t request = 0;  // chosen by the asker; the answer carries it back
  TaskId id;
  // 0: answer at once. Otherwise a task that is held and not finished is
  // answered when it finishes, or "pending" after this long.
  std::uint32_t wait_ms = 0;
};

enum class KeptState : std::uint8_t {
  kDone,     // the result is there
  kPending,  // held, not finished: `detail` says where it is
  kUnknown,  // no result, and none will come: `detail` says why
};
const char* kept_state_name(KeptState state);  // "done", "pending", "unknown"

// Why a task is unknown (KeptState::kUnknown), as `detail` spells it.
inline constexpr std::string_view kUnknownExpired = "expired";   // kept its full time, then dropped
inline constexpr std::string_view kUnknownEvicted = "evicted";   // dropped early, for room
inline constexpr std::string_view kUnknownNotKept = "not-kept";  // held, but not kFlagKeepResult
inline constexpr std::string_view kUnknownNeverSeen =
    "never-seen";  // not since the manager started

struct KeptResultReply {
  std::uint64_t request = 0;
  TaskId id;
  KeptState state = KeptState::kUnknown;
  std::optional<Result> result;  // kDone
  // kPending: "waiting-module", "queued", "running", "recovering";
  // kUnknown: one of the kUnknown* above.
  std::string detail;
  std::uint64_t uptime_ms = 0;  // the manager's: it keeps results only since its start
  std::uint64_t keep_ms = 0;    // how long it keeps a result after the task ends
};

std::string encode_fetch_result(const ResultQuery& query);
std::string encode_kept_result(const KeptResultReply& reply);
// Read a received FETCH_RESULT / KEPT_RESULT; throw DecodeError naming the field.
ResultQuery read_fetch_result(const Message& m);
KeptResultReply read_kept_result(const Message& m);

}  // namespace uni::proto
