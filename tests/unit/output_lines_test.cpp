// Proves src/worker/output_lines.hpp: output becomes the lines it holds,
// whatever the pieces it arrives in; a line longer than kMaxLine is cut into
// marked pieces that lose no byte; what is held never exceeds kMaxLine; a cut
// does not split a UTF-8 character.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "worker/output_lines.hpp"

namespace {

using uni::worker::OutputLines;

struct Collected {
  std::vector<std::string> lines;
  OutputLines::Sink sink() {
    return [this](std::string_view line) { lines.emplace_back(line); };
  }
};

TEST(OutputLines, WholeLinesPassAtOnceAndPartialOnesWait) {
  OutputLines out;
  Collected c;
  out.add("one\ntw", c.sink());
  EXPECT_EQ(c.lines, (std::vector<std::string>{"one"}));
  EXPECT_EQ(out.held(), 2u);
  out.add("o\n\nthree", c.sink());
  EXPECT_EQ(c.lines, (std::vector<std::string>{"one", "two", ""}));
  out.finish(c.sink());
  EXPECT_EQ(c.lines, (std::vector<std::string>{"one", "two", "", "three"}));
  EXPECT_EQ(out.held(), 0u);
}

TEST(OutputLines, ALineWithoutEndIsCutIntoMarkedPiecesAndNothingIsLost) {
  OutputLines out;
  Collected c;
  const std::size_t total = 3 * OutputLines::kMaxLine + 100;
  // Written in odd pieces, as a task's stdio buffer would hand them over.
  std::string text(total, 'x');
  for (std::size_t at = 0; at < total; at += 1000) {
    out.add(std::string_view(text).substr(at, 1000), c.sink());
    EXPECT_LE(out.held(), OutputLines::kMaxLine);
  }
  out.finish(c.sink());
  ASSERT_EQ(c.lines.size(), 4u);
  std::size_t xs = 0;
  for (std::size_t i = 0; i < c.lines.size(); ++i) {
    std::string line = c.lines[i];
    if (i > 0) {
      ASSERT_EQ(line.rfind(OutputLines::kContinuedMark, 0), 0u) << i;
      line.erase(0, OutputLines::kContinuedMark.size());
    }
    if (i < 3) {
      ASSERT_TRUE(line.ends_with(OutputLines::kCutMark)) << i;
      line.resize(line.size() - OutputLines::kCutMark.size());
      EXPECT_EQ(line.size(), OutputLines::kMaxLine);
    }
    xs += line.size();
  }
  EXPECT_EQ(xs, total);
}

TEST(OutputLines, AHugeWriteWithNewlinesInsideKeepsItsLines) {
  OutputLines out;
  Collected c;
  std::string text = "head\n" + std::string(OutputLines::kMaxLine + 5, 'y') + "\ntail\n";
  out.add(text, c.sink());
  ASSERT_EQ(c.lines.size(), 4u);
  EXPECT_EQ(c.lines[0], "head");
  EXPECT_EQ(c.lines[1],
            std::string(OutputLines::kMaxLine, 'y') + std::string(OutputLines::kCutMark));
  EXPECT_EQ(c.lines[2], std::string(OutputLines::kContinuedMark) + "yyyyy");
  EXPECT_EQ(c.lines[3], "tail");
}

TEST(OutputLines, ACutDoesNotSplitAUtf8Character) {
  OutputLines out;
  Collected c;
  // "é" is two bytes; placed so that the limit falls between them.
  std::string text(OutputLines::kMaxLine - 1, 'a');
  text += "\xC3\xA9";
  text += "bc\n";
  out.add(text, c.sink());
  ASSERT_EQ(c.lines.size(), 2u);
  EXPECT_EQ(c.lines[0],
            std::string(OutputLines::kMaxLine - 1, 'a') + std::string(OutputLines::kCutMark));
  EXPECT_EQ(c.lines[1], std::string(OutputLines::kContinuedMark) + "\xC3\xA9" + "bc");
}

}  // namespace
