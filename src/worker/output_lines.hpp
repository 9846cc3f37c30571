// A task's output cut into log lines. Bytes come in as the task writes them;
// whole lines go out. A line longer than kMaxLine is cut, and both pieces are
// marked, so that a task writing without newlines costs the supervisor at
// most kMaxLine bytes per stream rather than all it wrote.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace uni::worker {

class OutputLines {
 public:
  // Long enough for any line meant for a human or a log parser (journald
  // cuts at 48 KiB, Docker at 16 KiB); short enough to hold one per stream of
  // every executor.
  static constexpr std::size_t kMaxLine = 64 * 1024;
  // How a cut line ends, and how the line that continues it begins.
  static constexpr std::string_view kCutMark = " [line cut at 64 KiB]";
  static constexpr std::string_view kContinuedMark = "[continued] ";

  // Receives each line, without its newline, with the marks above.
  using Sink = std::function<void(std::string_view line)>;

  // Passes on every line that `text` completes, and every kMaxLine bytes of
  // a line that grows past it; holds the rest.
  void add(std::string_view text, const Sink& sink);
  // Passes on what is held as a last line (the task ended without a newline).
  void finish(const Sink& sink);
  // Bytes held: at most kMaxLine.
  std::size_t held() const { return partial_.size(); }

 private:
  void emit(std::string_view body, bool cut, const Sink& sink);
  std::string partial_;
  bool continued_ = false;  // what is held continues a line that was cut
};

}  // namespace uni::worker
