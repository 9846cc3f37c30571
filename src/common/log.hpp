// Logging for every uni process and for the boss library: spdlog to stderr,
// one line per event, prefixed with the role ("manager", "worker 3f2a", ...).
// uni logs through a logger of its own, never spdlog's default one, which
// belongs to the program (a boss may log to stdout, or not at all).
#pragma once

#include <spdlog/spdlog.h>

#include <string>
#include <utility>

namespace uni::log {

// Sets the process's logger: its name and level ("info", "debug", ...); the
// environment variable UNI_LOG_LEVEL, when set, overrides the level. Servers
// and the CLI call it first; it also becomes spdlog's default logger there.
void setup(const std::string& role, const std::string& level = "info");

// The logger uni writes to: the one setup() made, or, in a program that never
// called it (a boss), one named "uni" that writes to stderr at level info
// (UNI_LOG_LEVEL overrides).
spdlog::logger& logger();

inline bool should_log(spdlog::level::level_enum level) { return logger().should_log(level); }

template <class... Args>
void debug(spdlog::format_string_t<Args...> format, Args&&... args) {
  logger().debug(format, std::forward<Args>(args)...);
}
template <class... Args>
void info(spdlog::format_string_t<Args...> format, Args&&... args) {
  logger().info(format, std::forward<Args>(args)...);
}
template <class... Args>
void warn(spdlog::format_string_t<Args...> format, Args&&... args) {
  logger().warn(format, std::forward<Args>(args)...);
}
template <class... Args>
void error(spdlog::format_string_t<Args...> format, Args&&... args) {
  logger().error(format, std::forward<Args>(args)...);
}
template <class T>
void debug(const T& message) {
  logger().debug(message);
}
template <class T>
void info(const T& message) {
  logger().info(message);
}
template <class T>
void warn(const T& message) {
  logger().warn(message);
}
template <class T>
void error(const T& message) {
  logger().error(message);
}

}  // namespace uni::log
