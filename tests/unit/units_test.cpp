// Proves src/common/units.hpp: sizes are binary units (256M = 256 MiB) and durations are seconds
// with fractions or an ms suffix; anything malformed is rejected rather than guessed.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <optional>

#include "common/units.hpp"

namespace {

using namespace std::chrono_literals;
using uni::format_size;
using uni::parse_seconds;
using uni::parse_size;

constexpr std::uint64_t KiB = 1024, MiB = KiB * 1024, GiB = MiB * 1024, TiB = GiB * 1024;

TEST(ParseSize, PlainBytes) {
  EXPECT_EQ(parse_size("0"), 0u);
  EXPECT_EQ(parse_size("1048576"), 1048576u);
  EXPECT_EQ(parse_size("100B"), 100u);
  EXPECT_EQ(parse_size("100b"), 100u);
}

TEST(ParseSize, BinaryUnits) {
  EXPECT_EQ(parse_size("512K"), 512 * KiB);
  EXPECT_EQ(parse_size("256M"), 256 * MiB);
  EXPECT_EQ(parse_size("256m"), 256 * MiB);
  EXPECT_EQ(parse_size("256MiB"), 256 * MiB);
  EXPECT_EQ(parse_size("256MB"), 256 * MiB);
  EXPECT_EQ(parse_size("1G"), GiB);
  EXPECT_EQ(parse_size("2GiB"), 2 * GiB);
  EXPECT_EQ(parse_size("1T"), TiB);
  EXPECT_EQ(parse_size("1.5K"), 1536u);
  EXPECT_EQ(parse_size("0.5G"), 512 * MiB);
}

TEST(ParseSize, BadInput) {
  for (const char* bad : {"", "M", "abc", "-1", "-1M", "12Q", "1.2.3M", "1e3", " 1M", "1M ", "1 M",
                          "1MM", "0x10", "1KiBs", ".", "nan", "inf", "99999999999999999999T"}) {
    EXPECT_EQ(parse_size(bad), std::nullopt) << "accepted \"" << bad << "\"";
  }
}

TEST(ParseSeconds, WholeAndFractions) {
  EXPECT_EQ(parse_seconds("3"), 3000ms);
  EXPECT_EQ(parse_seconds("0"), 0ms);
  EXPECT_EQ(parse_seconds("0.25"), 250ms);
  EXPECT_EQ(parse_seconds("1.5"), 1500ms);
  EXPECT_EQ(parse_seconds(".5"), 500ms);
  EXPECT_EQ(parse_seconds("1.5s"), 1500ms);
  EXPECT_EQ(parse_seconds("2S"), 2000ms);
}

TEST(ParseSeconds, MillisecondsAndMinutes) {
  EXPECT_EQ(parse_seconds("250ms"), 250ms);
  EXPECT_EQ(parse_seconds("250MS"), 250ms);
  EXPECT_EQ(parse_seconds("0.5ms"), 1ms);  // rounded to the nearest millisecond
  EXPECT_EQ(parse_seconds("2m"), 120000ms);
  EXPECT_EQ(parse_seconds("1.5min"), 90000ms);
}

TEST(ParseSeconds, BadInput) {
  for (const char* bad : {"", "s", "ms", "abc", "-1", "-0.5", "1.2.3", "1e3", "5x", "5 s", " 5",
                          "5sec", "1h", "inf", "nan", "1e400", "99999999999999999999"}) {
    EXPECT_EQ(parse_seconds(bad), std::nullopt) << "accepted \"" << bad << "\"";
  }
}

TEST(FormatSize, BinaryUnits) {
  EXPECT_EQ(format_size(0), "0 B");
  EXPECT_EQ(format_size(1023), "1023 B");
  EXPECT_EQ(format_size(1536), "1.5 KiB");
  EXPECT_EQ(format_size(256 * MiB), "256.0 MiB");
  EXPECT_EQ(format_size(GiB), "1.0 GiB");
  EXPECT_EQ(format_size(3 * TiB), "3.0 TiB");
  EXPECT_EQ(format_size(2048 * TiB), "2048.0 TiB");
}

}  // namespace
