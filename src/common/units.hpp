// Parsing of the CLI's quantities: sizes in binary units ("256M" = 256 MiB)
// and durations in seconds with fractions ("0.5").
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace uni {

// "1048576", "512K", "256M", "2G", "1T" (also "256MiB", "256MB": always binary).
std::optional<std::uint64_t> parse_size(std::string_view text);

// "3", "0.25", "1.5s", "250ms": a non-negative duration.
std::optional<std::chrono::milliseconds> parse_seconds(std::string_view text);

// 1536 -> "1.5 KiB"
std::string format_size(std::uint64_t bytes);

}  // namespace uni
