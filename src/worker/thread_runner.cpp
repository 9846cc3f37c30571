// Thread isolation (see thread_runner.hpp).
#include "worker/thread_runner.hpp"

#include <fcntl.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <stdexcept>

namespace uni::worker {

ThreadRunner::ThreadRunner(unsigned slots)
    : slots_(slots), wake_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
  if (!wake_) throw std::runtime_error("eventfd failed");
  for (unsigned i = 0; i < slots_; ++i) threads_.emplace_back([this] { loop(); });
}

ThreadRunner::~ThreadRunner() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  work_ready_.notify_all();
  for (auto& t : threads_) t.join();
}

std::size_t ThreadRunner::room() const {
  std::size_t limit = std::size_t{slots_} * depth_;
  return handed_ < limit ? limit - handed_ : 0;
}

bool ThreadRunner::start(RunRequest& request) {
  if (room() == 0) return false;
  ++handed_;
  {
    std::lock_guard lock(mutex_);
    work_.push_back(std::move(request));
  }
  work_ready_.notify_one();
  return true;
}

Runner::Stop ThreadRunner::stop(std::uint64_t tag, bool) {
  std::lock_guard lock(mutex_);
  for (auto it = work_.begin(); it != work_.end(); ++it)
    if (it->tag == tag) {
      work_.erase(it);
      --handed_;
      return Stop::kDropped;
    }
  return running_.count(tag) ? Stop::kCannot : Stop::kNotStarted;
}

std::optional<Runner::Clock::time_point> ThreadRunner::started(std::uint64_t tag) const {
  std::lock_guard lock(mutex_);
  auto it = running_.find(tag);
  if (it == running_.end()) return std::nullopt;
  return it->second;
}

std::size_t ThreadRunner::executing() const {
  // Tasks waiting for a thread keep it busy between two of them.
  std::lock_guard lock(mutex_);
  return std::min<std::size_t>(slots_, running_.size() + work_.size());
}

void ThreadRunner::recall(unsigned depth) {
  std::lock_guard lock(mutex_);
  std::size_t keep = std::size_t{slots_} * depth;
  std::size_t held = work_.size() + running_.size();
  bool first = finished_.empty();
  while (held > keep && !work_.empty()) {
    Completion c;
    c.tag = work_.back().tag;
    c.status = proto::Status::kHandedBack;
    c.payload = "taken back by the supervisor";
    finished_.push_back(std::move(c));
    work_.pop_back();
    --held;
  }
  if (first && !finished_.empty()) {
    std::uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(wake_.get(), &one, sizeof(one));
  }
}

void ThreadRunner::unload(const std::string& module_path) {
  // A module may be in use on another thread; it stays loaded until the
  // worker exits. Only its file leaves the cache.
  (void)module_path;
}

const LoadedModule* ThreadRunner::module(const RunRequest& request, std::string& error) {
  std::lock_guard lock(mutex_);
  const std::string& path = request.module_path;
  auto it = modules_.find(path);
  if (it != modules_.end()) return it->second.get();
  try {
    // From its sealed image (held by the cache while the task holds the
    // module), as executors load it; a copy of the descriptor stays with it.
    if (request.module_image >= 0) {
      UniqueFd image(::fcntl(request.module_image, F_DUPFD_CLOEXEC, 0));
      return modules_.emplace(path, LoadedModule::open_image(std::move(image), request.module))
          .first->second.get();
    }
    return modules_.emplace(path, LoadedModule::open(path)).first->second.get();
  } catch (const ModuleLoadError& e) {
    error = e.what();
    return nullptr;
  }
}

void ThreadRunner::loop() {
  const auto pid = static_cast<std::uint32_t>(::getpid());
  for (;;) {
    RunRequest request;
    Clock::time_point start;
    {
      std::unique_lock lock(mutex_);
      work_ready_.wait(lock, [&] { return stopping_ || !work_.empty(); });
      if (stopping_) return;
      request = std::move(work_.front());
      work_.pop_front();
      start = Clock::now();
      running_[request.tag] = start;
    }
    Completion c;
    c.tag = request.tag;
    c.pid = pid;
    std::string error;
    if (const LoadedModule* m = module(request, error)) {
      Outcome outcome = invoke(*m, request.function, request.args);
      c.status = outcome.status;
      c.payload = std::move(outcome.payload);
    } else {
      c.status = proto::Status::kModuleError;
      c.payload = std::move(error);
    }
    c.elapsed_ns =
        std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start).count();
    bool first;
    {
      std::lock_guard lock(mutex_);
      running_.erase(request.tag);
      first = finished_.empty();
      finished_.push_back(std::move(c));
    }
    if (first) {  // one wake-up per batch of completions
      std::uint64_t one = 1;
      [[maybe_unused]] ssize_t n = ::write(wake_.get(), &one, sizeof(one));
    }
  }
}

void ThreadRunner::add_poll_items(std::vector<broker::PollItem>& items) {
  items.push_back({nullptr, wake_.get(), broker::kPollIn, 0});
}

void ThreadRunner::service(const broker::PollItem* first, std::vector<Completion>& done) {
  if (!(first->revents & broker::kPollIn)) return;
  std::uint64_t count;
  [[maybe_unused]] ssize_t n = ::read(wake_.get(), &count, sizeof(count));
  std::lock_guard lock(mutex_);
  handed_ -= finished_.size();
  for (Completion& c : finished_) done.push_back(std::move(c));
  finished_.clear();
}

}  // namespace uni::worker
