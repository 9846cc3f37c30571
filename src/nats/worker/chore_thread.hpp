// ChoreThread: one thread that runs posted jobs in order, off the caller's
// path. A worker engine's module fetches and registry puts are NATS
// requests that take a round trip; the threads that move tasks post them
// here instead of waiting. A job that throws is logged and the next runs.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

namespace uni::nats {

class ChoreThread {
 public:
  ChoreThread();
  ~ChoreThread();  // stop()
  ChoreThread(const ChoreThread&) = delete;
  ChoreThread& operator=(const ChoreThread&) = delete;

  // Runs `job` after those posted before it. Safe from any thread, also
  // under the caller's own locks (jobs run without this class's lock held).
  void post(std::function<void()> job);
  // Runs what was posted, then ends the thread; nothing runs after it.
  void stop();

 private:
  void run();

  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<std::function<void()>> jobs_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace uni::nats
