// spdlog setup: the one default logger (spdlog's own registry holds it).
#include "common/log.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>

#include <cstdlib>

namespace uni::log {

void setup(const std::string& role, const std::string& level) {
  auto sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
  auto logger = std::make_shared<spdlog::logger>(role, std::move(sink));
  logger->set_pattern("%Y-%m-%d %H:%M:%S.%e %n %^%l%$: %v");
  // UNI_LOG_LEVEL (trace, debug, info, warn, error, off) overrides the default.
  const char* wanted = std::getenv("UNI_LOG_LEVEL");
  logger->set_level(spdlog::level::from_str(wanted && *wanted ? wanted : level));
  logger->flush_on(spdlog::level::debug);
  spdlog::set_default_logger(std::move(logger));
}

}  // namespace uni::log
