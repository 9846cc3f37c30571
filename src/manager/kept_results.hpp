// The manager's kept results: the final results of tasks submitted with
// kFlagKeepResult (`uni submit`), held after the task itself is gone so that
// anyone can read them by id (`uni result`). In memory only: they last while
// the manager runs. Bounded three ways — by age, by count and by bytes — and
// the oldest go first; ids dropped lately are remembered (bounded too), so
// that a reader is told "expired" or "evicted" rather than "never seen".
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <string_view>
#include <unordered_map>

#include "manager/outbox.hpp"
#include "proto/messages.hpp"

namespace uni::manager {

struct KeptResultLimits {
  // A result is dropped this long after its task ended (as UNI_RESULTS on NATS).
  std::chrono::milliseconds keep_for{std::chrono::hours(24)};
  // At most this many results and this many bytes (payloads, worker and host
  // names, and a fixed overhead per entry); past either the oldest are evicted.
  std::uint64_t max_count = 100'000;
  std::uint64_t max_bytes = 256ull << 20;
};

class KeptResults {
 public:
  enum class Dropped : std::uint8_t { kExpired, kEvicted };

  explicit KeptResults(const KeptResultLimits& limits) : limits_(limits) {}
  KeptResults(const KeptResults&) = delete;
  KeptResults& operator=(const KeptResults&) = delete;

  // Keeps the final result of a task that ended at `now`, evicting the
  // oldest while over a bound (logged). A result already kept for this id
  // stays as it is (the first is the task's result). A result larger than
  // max_bytes by itself is not kept: it counts as evicted. Returns whether
  // it is kept. Evictions are logged, at most one line per 10 s.
  bool keep(const proto::Result& result, Clock::time_point now);
  // The result of `id`, or null. Reading does not remove it.
  const proto::Result* find(const proto::TaskId& id) const {
    auto it = results_.find(id);
    return it == results_.end() ? nullptr : &it->second.result;
  }
  // Why `id` is not kept any more, if it was kept lately.
  std::optional<Dropped> dropped(const proto::TaskId& id) const {
    auto it = dropped_.find(id);
    if (it == dropped_.end()) return std::nullopt;
    return it->second;
  }
  // Drops what has been kept for keep_for. Cost: the expired entries.
  void expire(Clock::time_point now);

  std::size_t count() const { return results_.size(); }
  std::uint64_t bytes() const { return bytes_; }
  const KeptResultLimits& limits() const { return limits_; }

  // Dropped ids remembered for "expired"/"evicted": at most this many, the
  // oldest forgotten first (16 bytes and a hash-table node each).
  static constexpr std::size_t kDroppedRemembered = 65'536;
  // Added to each entry's byte count for the map node, the id and the times.
  static constexpr std::uint64_t kEntryOverhead = 128;

 private:
  struct Entry {
    proto::Result result;
    Clock::time_point kept_at;
    std::uint64_t bytes = 0;
  };
  void drop_oldest(Dropped why);
  void remember_dropped(const proto::TaskId& id, Dropped why);

  const KeptResultLimits limits_;
  std::unordered_map<proto::TaskId, Entry, proto::TaskIdHash> results_;
  // Ids in the order kept: the front is the oldest, first to expire and to be
  // evicted (every result is kept for the same time).
  std::deque<proto::TaskId> order_;
  std::uint64_t bytes_ = 0;
  std::unordered_map<proto::TaskId, Dropped, proto::TaskIdHash> dropped_;
  std::deque<proto::TaskId> dropped_order_;
  // Evictions not yet logged, and when they last were.
  static constexpr std::chrono::seconds kEvictionLogEvery{10};
  std::uint64_t unlogged_evictions_ = 0;
  proto::TaskId last_evicted_;
  std::optional<Clock::time_point> last_eviction_log_;
};

}  // namespace uni::manager
