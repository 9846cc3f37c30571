// The bounded store of kept results (see kept_results.hpp).
#include "manager/kept_results.hpp"

#include "common/log.hpp"
#include "common/units.hpp"

namespace uni::manager {

namespace {

std::uint64_t size_of(const proto::Result& r) {
  return r.payload.size() + r.worker.size() + r.host.size() + KeptResults::kEntryOverhead;
}

}  // namespace

bool KeptResults::keep(const proto::Result& result, Clock::time_point now) {
  if (results_.count(result.id)) return true;
  const std::uint64_t bytes = size_of(result);
  if (bytes > limits_.max_bytes || limits_.max_count == 0) {
    log::warn("not keeping the result of task {}: its {} exceed the limit for kept results ({})",
              result.id.str(), format_size(bytes), format_size(limits_.max_bytes));
    remember_dropped(result.id, Dropped::kEvicted);
    return false;
  }
  while (!order_.empty() &&
         (results_.size() + 1 > limits_.max_count || bytes_ + bytes > limits_.max_bytes))
    drop_oldest(Dropped::kEvicted);
  // One line at the first eviction, then at most one per kEvictionLogEvery,
  // counting: a manager at its bound evicts at every keep.
  if (unlogged_evictions_ > 0 &&
      (!last_eviction_log_ || now - *last_eviction_log_ >= kEvictionLogEvery)) {
    log::warn(
        "evicted {} kept result(s), the oldest first (the latest: task {}), to stay within "
        "{} results and {} (uni manager --max-kept-results, --max-kept-result-bytes)",
        unlogged_evictions_, last_evicted_.str(), limits_.max_count,
        format_size(limits_.max_bytes));
    unlogged_evictions_ = 0;
    last_eviction_log_ = now;
  }
  results_.emplace(result.id, Entry{result, now, bytes});
  order_.push_back(result.id);
  bytes_ += bytes;
  return true;
}

void KeptResults::expire(Clock::time_point now) {
  while (!order_.empty() && now - results_.at(order_.front()).kept_at >= limits_.keep_for)
    drop_oldest(Dropped::kExpired);
}

void KeptResults::drop_oldest(Dropped why) {
  const proto::TaskId id = order_.front();
  order_.pop_front();
  auto it = results_.find(id);
  bytes_ -= it->second.bytes;
  results_.erase(it);
  if (why == Dropped::kEvicted) {
    ++unlogged_evictions_;
    last_evicted_ = id;
  } else {
    log::debug("the kept result of task {} expired", id.str());
  }
  remember_dropped(id, why);
}

void KeptResults::remember_dropped(const proto::TaskId& id, Dropped why) {
  auto [it, added] = dropped_.insert_or_assign(id, why);
  if (!added) return;
  dropped_order_.push_back(id);
  if (dropped_order_.size() > kDroppedRemembered) {
    dropped_.erase(dropped_order_.front());
    dropped_order_.pop_front();
  }
}

}  // namespace uni::manager
