// Proves src/cli/progress_line.hpp: the text of `uni map`'s progress line
// (done/total, percent, rate, ETA, failures); off unless the stream is a
// terminal or --progress forces it, and --quiet wins; forced onto a file it
// writes plain lines with the final figures, no carriage returns. (The
// terminal form is tested through a pseudo-terminal in operability_test.)
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "cli/progress_line.hpp"

namespace {

using uni::cli::ProgressLine;

TEST(ProgressLine, TextSaysDoneTotalRateEtaAndFailures) {
  EXPECT_EQ(ProgressLine::text(420, 1000, 95.25, 2, false),
            "uni map: 420/1000 (42%)  95.2/s  ETA 6s  2 failed");
  EXPECT_EQ(ProgressLine::text(0, 10, 0, 0, false), "uni map: 0/10 (0%)  0.0/s  ETA ?");
  EXPECT_EQ(ProgressLine::text(10, 100000, 10, 0, false),
            "uni map: 10/100000 (0%)  10.0/s  ETA 2h46m");
  EXPECT_EQ(ProgressLine::text(1000, 1000, 512, 0, true), "uni map: 1000/1000 (100%)  512.0/s");
}

TEST(ProgressLine, OffUnlessATerminalOrForcedAndQuietWins) {
  std::FILE* file = std::tmpfile();
  ASSERT_NE(file, nullptr);
  EXPECT_EQ(ProgressLine::choose(file, false, false), ProgressLine::Mode::kOff);
  EXPECT_EQ(ProgressLine::choose(file, false, true), ProgressLine::Mode::kLines);
  EXPECT_EQ(ProgressLine::choose(file, true, true), ProgressLine::Mode::kOff);
  std::fclose(file);
}

TEST(ProgressLine, ForcedOntoAFileItWritesPlainLines) {
  std::FILE* file = std::tmpfile();
  ASSERT_NE(file, nullptr);
  {
    ProgressLine line(file, ProgressLine::Mode::kLines, 3, ProgressLine::Clock::now());
    line.update(1, 0);  // within its first 2 s: nothing yet
    line.finish(3, 1);
  }
  std::rewind(file);
  char buffer[256] = {};
  std::size_t n = std::fread(buffer, 1, sizeof(buffer) - 1, file);
  std::fclose(file);
  std::string text(buffer, n);
  EXPECT_EQ(text.find('\r'), std::string::npos) << text;
  EXPECT_EQ(text.rfind("uni map: 3/3 (100%)", 0), 0u) << text;
  EXPECT_NE(text.find("1 failed\n"), std::string::npos) << text;
}

}  // namespace
