// Logging for every uni process and for the boss library: spdlog to stderr,
// one line per event, prefixed with the role ("manager", "worker 3f2a", ...).
// uni logs through a logger of its own, never spdlog's default one, which
// belongs to the program (a boss may log to stdout, or not at all). Every
// line passes redact_secrets (common/redact.hpp) on its way out, and lines a
// peer can cause at will go through limited().
#pragma once

#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
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
// Whether a line of kind `key` may be logged now: at most kLimitedBurst
// lines of one kind per kLimitedWindow. `held_back` is set to the lines of
// that kind refused since the last one admitted.
inline constexpr int kLimitedBurst = 5;
inline constexpr std::chrono::seconds kLimitedWindow{10};
bool admit_limited(std::string_view key, std::uint64_t& held_back);

// Logs like the functions below, but at most kLimitedBurst lines of kind
// `key` (a fixed name: "malformed-message") per kLimitedWindow; the next
// line logged after some were held back says how many. For what a peer can
// make the process log at will.
template <class... Args>
void limited(spdlog::level::level_enum level, std::string_view key,
             spdlog::format_string_t<Args...> format, Args&&... args) {
  if (!should_log(level)) return;
  std::uint64_t held_back = 0;
  if (!admit_limited(key, held_back)) return;
  std::string text = fmt::format(format, std::forward<Args>(args)...);
  if (held_back > 0)
    text += fmt::format(" ({} more line(s) like this one were not logged)", held_back);
  logger().log(level, text);
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
