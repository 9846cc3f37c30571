// The progress line of `uni map` on stderr: done/total, rate, ETA and
// failures. On a terminal it is one line redrawn in place (at most 5 times a
// second) and ended when the map ends; forced onto something else
// (--progress) it is a plain line every 2 s, fit for a log.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdio>
#include <deque>
#include <string>
#include <utility>

namespace uni::cli {

class ProgressLine {
 public:
  using Clock = std::chrono::steady_clock;
  enum class Mode { kOff, kTerminal, kLines };
  // kTerminal if `stream` is a terminal, else kOff; `quiet` and `forced`
  // (--quiet, --progress) override: forced off a terminal gives kLines.
  static Mode choose(std::FILE* stream, bool quiet, bool forced);

  // `start`: when the map began (reading its input), so that the rate is
  // that of the whole map, as its user times it.
  ProgressLine(std::FILE* stream, Mode mode, std::size_t total, Clock::time_point start);
  // Ends the line on a terminal, so that what follows starts on its own.
  ~ProgressLine();
  ProgressLine(const ProgressLine&) = delete;
  ProgressLine& operator=(const ProgressLine&) = delete;

  // Cheap when called often: it draws only when its interval has passed.
  void update(std::size_t done, std::size_t failed);
  // Draws the final figures now (also on a terminal) and ends the line.
  void finish(std::size_t done, std::size_t failed);

  // The text of one line, e.g. "uni map: 420/1000 (42%)  95.3/s  ETA 6s  2 failed".
  static std::string text(std::size_t done, std::size_t total, double rate, std::size_t failed,
                          bool final);

 private:
  void draw(std::size_t done, std::size_t failed, bool final);
  double rate(Clock::time_point now, std::size_t done);

  std::FILE* stream_;
  Mode mode_;
  std::size_t total_;
  Clock::time_point start_, next_draw_;
  // (time, done) over the last few seconds: the rate of recent progress.
  std::deque<std::pair<Clock::time_point, std::size_t>> samples_;
  bool drawn_ = false, finished_ = false;
};

}  // namespace uni::cli
