// The progress line of `uni map` (see progress_line.hpp).
#include "cli/progress_line.hpp"

#include <unistd.h>

#include <cmath>

namespace uni::cli {

namespace {

constexpr std::chrono::milliseconds kTerminalEvery{200};
constexpr std::chrono::seconds kLinesEvery{2};
// The rate is taken over this much recent progress, so that the ETA follows
// a cluster that grows or slows.
constexpr std::chrono::seconds kRateWindow{5};

std::string eta_text(double seconds) {
  char out[32];
  long s = std::lround(seconds);
  if (s < 60) std::snprintf(out, sizeof(out), "%lds", s);
  else if (s < 3600) std::snprintf(out, sizeof(out), "%ldm%02lds", s / 60, s % 60);
  else std::snprintf(out, sizeof(out), "%ldh%02ldm", s / 3600, s % 3600 / 60);
  return out;
}

}  // namespace

ProgressLine::Mode ProgressLine::choose(std::FILE* stream, bool quiet, bool forced) {
  if (quiet) return Mode::kOff;
  bool terminal = ::isatty(::fileno(stream));
  if (terminal) return Mode::kTerminal;
  return forced ? Mode::kLines : Mode::kOff;
}

ProgressLine::ProgressLine(std::FILE* stream, Mode mode, std::size_t total, Clock::time_point start)
    : stream_(stream),
      mode_(mode),
      total_(total),
      start_(start),
      // A log gets its first line after a while, a terminal at once.
      next_draw_(mode == Mode::kLines ? start_ + kLinesEvery : start_) {
  samples_.emplace_back(start_, 0);
}

ProgressLine::~ProgressLine() {
  if (mode_ == Mode::kTerminal && drawn_ && !finished_) {
    std::fputs("\n", stream_);
    std::fflush(stream_);
  }
}

std::string ProgressLine::text(std::size_t done, std::size_t total, double rate, std::size_t failed,
                               bool final) {
  char out[160];
  int percent = total ? static_cast<int>(100.0 * static_cast<double>(done) / total) : 100;
  int n = std::snprintf(out, sizeof(out), "uni map: %zu/%zu (%d%%)  %.1f/s", done, total, percent,
                        rate);
  std::string line(out, static_cast<std::size_t>(n));
  if (!final && done < total) {
    line += "  ETA ";
    line += rate > 0 ? eta_text(static_cast<double>(total - done) / rate) : "?";
  }
  if (failed) line += "  " + std::to_string(failed) + " failed";
  return line;
}

double ProgressLine::rate(Clock::time_point now, std::size_t done) {
  samples_.emplace_back(now, done);
  while (samples_.size() > 2 && now - samples_[1].first >= kRateWindow) samples_.pop_front();
  double seconds = std::chrono::duration<double>(now - samples_.front().first).count();
  if (seconds <= 0) return 0;
  return static_cast<double>(done - samples_.front().second) / seconds;
}

void ProgressLine::update(std::size_t done, std::size_t failed) {
  if (mode_ == Mode::kOff) return;
  if (Clock::now() < next_draw_) return;
  draw(done, failed, false);
}

void ProgressLine::finish(std::size_t done, std::size_t failed) {
  if (mode_ == Mode::kOff || finished_) return;
  draw(done, failed, true);
  finished_ = true;
}

void ProgressLine::draw(std::size_t done, std::size_t failed, bool final) {
  Clock::time_point now = Clock::now();
  // The final line gives the average of the whole map.
  double r = final ? static_cast<double>(done) /
                         std::max(1e-3, std::chrono::duration<double>(now - start_).count())
                   : rate(now, done);
  std::string line = text(done, total_, r, failed, final);
  if (mode_ == Mode::kTerminal) {
    // Carriage return, the line, clear to its end: redrawn in place.
    std::fprintf(stream_, "\r%s\x1b[K%s", line.c_str(), final ? "\n" : "");
    next_draw_ = now + kTerminalEvery;
  } else {
    std::fprintf(stream_, "%s\n", line.c_str());
    next_draw_ = now + kLinesEvery;
  }
  std::fflush(stream_);
  drawn_ = true;
}

}  // namespace uni::cli
