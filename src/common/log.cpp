// uni's logger (see log.hpp). Loggers once handed out are kept for the
// process's life, so that a thread that logs while setup() replaces the
// logger never holds a dangling one.
#include "common/log.hpp"

#include <spdlog/sinks/sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>

#include <atomic>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "common/redact.hpp"

namespace uni::log {

namespace {

struct Loggers {
  std::mutex mutex;
  std::vector<std::shared_ptr<spdlog::logger>> made;
  std::atomic<spdlog::logger*> current{nullptr};

  // Under `mutex`.
  void install(std::shared_ptr<spdlog::logger> logger) {
    made.push_back(std::move(logger));
    current.store(made.back().get(), std::memory_order_release);
  }
};

// Process-wide, as a logger is: spdlog's own registry is too.
Loggers& loggers() {
  static Loggers instance;
  return instance;
}

// What limited() admitted, per kind of line.
struct LineLimits {
  struct Kind {
    std::chrono::steady_clock::time_point window_start;
    int admitted = 0;
    std::uint64_t held_back = 0;
  };
  std::mutex mutex;
  std::map<std::string, Kind, std::less<>> kinds;
};

LineLimits& line_limits() {
  static LineLimits instance;
  return instance;
}

// Hands every line to the real sink with its credentials hidden, so that no
// call site has to remember to.
class RedactingSink : public spdlog::sinks::sink {
 public:
  explicit RedactingSink(std::shared_ptr<spdlog::sinks::sink> inner) : inner_(std::move(inner)) {}
  void log(const spdlog::details::log_msg& message) override {
    std::string_view payload(message.payload.data(), message.payload.size());
    std::string clean = redact_secrets(payload);
    if (clean == payload) return inner_->log(message);
    spdlog::details::log_msg copy = message;
    copy.payload = clean;
    inner_->log(copy);
  }
  void flush() override { inner_->flush(); }
  void set_pattern(const std::string& pattern) override { inner_->set_pattern(pattern); }
  void set_formatter(std::unique_ptr<spdlog::formatter> formatter) override {
    inner_->set_formatter(std::move(formatter));
  }

 private:
  std::shared_ptr<spdlog::sinks::sink> inner_;
};

std::shared_ptr<spdlog::logger> make_logger(const std::string& name, const std::string& level) {
  auto sink =
      std::make_shared<RedactingSink>(std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
  auto logger = std::make_shared<spdlog::logger>(name, std::move(sink));
  logger->set_pattern("%Y-%m-%d %H:%M:%S.%e %n %^%l%$: %v");
  // UNI_LOG_LEVEL (trace, debug, info, warn, error, off) overrides the default.
  const char* wanted = std::getenv("UNI_LOG_LEVEL");
  logger->set_level(spdlog::level::from_str(wanted && *wanted ? wanted : level));
  logger->flush_on(spdlog::level::debug);
  return logger;
}

}  // namespace

void setup(const std::string& role, const std::string& level) {
  std::shared_ptr<spdlog::logger> logger = make_logger(role, level);
  spdlog::set_default_logger(logger);
  Loggers& all = loggers();
  std::lock_guard lock(all.mutex);
  all.install(std::move(logger));
}

bool admit_limited(std::string_view key, std::uint64_t& held_back) {
  LineLimits& limits = line_limits();
  auto now = std::chrono::steady_clock::now();
  std::lock_guard lock(limits.mutex);
  auto it = limits.kinds.find(key);
  if (it == limits.kinds.end())
    it = limits.kinds.emplace(std::string(key), LineLimits::Kind{}).first;
  LineLimits::Kind& kind = it->second;
  if (now - kind.window_start >= kLimitedWindow) {
    kind.window_start = now;
    kind.admitted = 0;
  }
  if (kind.admitted >= kLimitedBurst) {
    ++kind.held_back;
    return false;
  }
  ++kind.admitted;
  held_back = kind.held_back;
  kind.held_back = 0;
  return true;
}

spdlog::logger& logger() {
  Loggers& all = loggers();
  if (spdlog::logger* current = all.current.load(std::memory_order_acquire)) return *current;
  std::lock_guard lock(all.mutex);
  if (!all.current.load(std::memory_order_relaxed)) all.install(make_logger("uni", "info"));
  return *all.current.load(std::memory_order_relaxed);
}

}  // namespace uni::log
