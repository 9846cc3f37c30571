// spdlog setup: the one default logger (spdlog's own registry holds it).
#include "common/log.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>

namespace uni::log {

void setup(const std::string& role, const std::string& level) {
  auto sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
  auto logger = std::make_shared<spdlog::logger>(role, std::move(sink));
  logger->set_pattern("%Y-%m-%d %H:%M:%S.%e %n %^%l%$: %v");
  logger->set_level(spdlog::level::from_str(level));
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(std::move(logger));
}

}  // namespace uni::log
