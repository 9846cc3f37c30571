// What the broker link doubles (boss_link_double.hpp, worker_link_double.hpp)
// share: a test plays the broker's part by queueing acts, which run on the
// thread that drives the link — inside its process(), woken through an
// eventfd in the caller's poll set, as a real link's library callbacks would
// — and waits, without sleeping blind, until what the link recorded says so.
#pragma once

#include <gtest/gtest.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <vector>

#include "broker/poll.hpp"
#include "common/unique_fd.hpp"

namespace uni::test {

// `Events`: the events interface the link reports to (BossEvents, WorkerEvents).
// `Record`: what the link saw, read and written under the stage's lock.
template <class Events, class Record>
class LinkStage {
 public:
  using Act = std::function<void(Events&)>;

  LinkStage() : wake_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}

  // Runs `act` on the link's thread, in its next process().
  void play(Act act) {
    {
      std::lock_guard lock(mutex_);
      acts_.push_back(std::move(act));
    }
    std::uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(wake_.get(), &one, sizeof(one));
  }

  // Waits until `holds(record)` (checked on every change), at most 20 s;
  // fails the test if it never does.
  template <class Predicate>
  bool wait_until(Predicate holds, const char* what) {
    std::unique_lock lock(mutex_);
    if (changed_.wait_for(lock, std::chrono::seconds(20), [&] { return holds(record_); }))
      return true;
    ADD_FAILURE() << "never happened: " << what;
    return false;
  }

  // Reads (or changes) the record under the lock.
  template <class F>
  auto with(F f) {
    std::lock_guard lock(mutex_);
    return f(record_);
  }

  // ---- for the link ----
  template <class F>
  void record(F f) {
    {
      std::lock_guard lock(mutex_);
      f(record_);
    }
    changed_.notify_all();
  }
  void add_poll_item(std::vector<broker::PollItem>& items) {
    items.push_back({nullptr, wake_.get(), broker::kPollIn, 0});
  }
  void run_acts(const broker::PollItem* ready, Events& events) {
    if (!(ready[0].revents & broker::kPollIn)) return;
    std::uint64_t count;
    [[maybe_unused]] ssize_t n = ::read(wake_.get(), &count, sizeof(count));
    std::deque<Act> acts;
    {
      std::lock_guard lock(mutex_);
      acts.swap(acts_);
    }
    // Acts run without the lock: they call into the client or supervisor,
    // which call the link back (and so record()).
    for (Act& act : acts) act(events);
    changed_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  Record record_;
  std::deque<Act> acts_;
  UniqueFd wake_;
};

}  // namespace uni::test
