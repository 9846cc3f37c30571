// uni's logger (see log.hpp). Loggers once handed out are kept for the
// process's life, so that a thread that logs while setup() replaces the
// logger never holds a dangling one.
#include "common/log.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>

#include <atomic>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <vector>

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

std::shared_ptr<spdlog::logger> make_logger(const std::string& name, const std::string& level) {
  auto sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
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

spdlog::logger& logger() {
  Loggers& all = loggers();
  if (spdlog::logger* current = all.current.load(std::memory_order_acquire)) return *current;
  std::lock_guard lock(all.mutex);
  if (!all.current.load(std::memory_order_relaxed)) all.install(make_logger("uni", "info"));
  return *all.current.load(std::memory_order_relaxed);
}

}  // namespace uni::log
