// Sizes and durations as the CLI spells them.
#include "common/units.hpp"

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>

namespace uni {

namespace {
std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::optional<double> parse_number(std::string_view text, std::string_view& suffix) {
  std::size_t end = 0;
  while (end < text.size() &&
         (std::isdigit(static_cast<unsigned char>(text[end])) || text[end] == '.'))
    ++end;
  if (end == 0) return std::nullopt;
  double value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + end, value);
  if (ec != std::errc() || ptr != text.data() + end || !std::isfinite(value) || value < 0)
    return std::nullopt;
  suffix = text.substr(end);
  return value;
}
}  // namespace

std::optional<std::uint64_t> parse_size(std::string_view text) {
  std::string_view suffix;
  auto value = parse_number(text, suffix);
  if (!value) return std::nullopt;
  std::string unit = lower(suffix);
  double scale = 1;
  if (unit.empty() || unit == "b") scale = 1;
  else if (unit == "k" || unit == "kb" || unit == "kib") scale = 1024.0;
  else if (unit == "m" || unit == "mb" || unit == "mib") scale = 1024.0 * 1024;
  else if (unit == "g" || unit == "gb" || unit == "gib") scale = 1024.0 * 1024 * 1024;
  else if (unit == "t" || unit == "tb" || unit == "tib") scale = 1024.0 * 1024 * 1024 * 1024;
  else return std::nullopt;
  double bytes = *value * scale;
  if (bytes > 1.8e19) return std::nullopt;
  return static_cast<std::uint64_t>(bytes);
}

std::optional<std::chrono::milliseconds> parse_seconds(std::string_view text) {
  std::string_view suffix;
  auto value = parse_number(text, suffix);
  if (!value) return std::nullopt;
  std::string unit = lower(suffix);
  double ms;
  if (unit.empty() || unit == "s") ms = *value * 1000.0;
  else if (unit == "ms") ms = *value;
  else if (unit == "m" || unit == "min") ms = *value * 60000.0;
  else return std::nullopt;
  if (ms > 1e15) return std::nullopt;
  // Limits are in whole milliseconds, and 0 means "none": round a small but
  // non-zero duration up rather than to nothing.
  if (ms > 0 && ms < 1) ms = 1;
  return std::chrono::milliseconds(static_cast<std::int64_t>(std::llround(ms)));
}

std::string format_size(std::uint64_t bytes) {
  static const char* const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes);
  int unit = 0;
  while (value >= 1024 && unit < 4) {
    value /= 1024;
    ++unit;
  }
  char out[32];
  if (unit == 0) std::snprintf(out, sizeof(out), "%llu B", static_cast<unsigned long long>(bytes));
  else std::snprintf(out, sizeof(out), "%.1f %s", value, units[unit]);
  return out;
}

}  // namespace uni
