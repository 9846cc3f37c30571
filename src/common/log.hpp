// Logging for every uni process: spdlog to stderr, one line per event,
// prefixed with the role ("manager", "worker 3f2a", ...).
#pragma once

#include <spdlog/spdlog.h>

#include <string>

namespace uni::log {

// Sets the process-wide logger's name and level ("info", "debug", ...); the
// environment variable UNI_LOG_LEVEL, when set, overrides the level.
void setup(const std::string& role, const std::string& level = "info");

using spdlog::debug;
using spdlog::error;
using spdlog::info;
using spdlog::warn;

}  // namespace uni::log
