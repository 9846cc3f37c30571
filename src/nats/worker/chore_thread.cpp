// ChoreThread: see chore_thread.hpp.
#include "nats/worker/chore_thread.hpp"

#include <exception>
#include <utility>

#include "common/log.hpp"

namespace uni::nats {

ChoreThread::ChoreThread() : thread_([this] { run(); }) {}

ChoreThread::~ChoreThread() { stop(); }

void ChoreThread::post(std::function<void()> job) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    jobs_.push_back(std::move(job));
  }
  changed_.notify_one();
}

void ChoreThread::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void ChoreThread::run() {
  for (;;) {
    std::function<void()> job;
    {
      std::unique_lock lock(mutex_);
      changed_.wait(lock, [&] { return stopping_ || !jobs_.empty(); });
      if (jobs_.empty()) return;  // stopping, nothing left
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    try {
      job();
    } catch (const std::exception& e) {
      log::warn("NATS: {}", e.what());
    }
  }
}

}  // namespace uni::nats
