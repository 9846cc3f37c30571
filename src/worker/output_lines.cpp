// Cutting output into bounded lines (see output_lines.hpp).
#include "worker/output_lines.hpp"

namespace uni::worker {

namespace {

// Where to cut `text` at most `limit` bytes in: not inside a UTF-8 character
// (a continuation byte is 10xxxxxx), unless that leaves nothing.
std::size_t cut_point(std::string_view text, std::size_t limit) {
  std::size_t cut = limit;
  while (cut > 0 && cut > limit - 3 && cut < text.size() &&
         (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80)
    --cut;
  return cut > 0 ? cut : limit;
}

}  // namespace

void OutputLines::emit(std::string_view body, bool cut, const Sink& sink) {
  if (!continued_ && !cut) {
    sink(body);
  } else {
    std::string line;
    line.reserve(kContinuedMark.size() + body.size() + kCutMark.size());
    if (continued_) line += kContinuedMark;
    line += body;
    if (cut) line += kCutMark;
    sink(line);
  }
  continued_ = cut;
}

void OutputLines::add(std::string_view text, const Sink& sink) {
  while (!text.empty()) {
    std::size_t newline = text.find('\n');
    std::size_t line_end = newline == std::string_view::npos ? text.size() : newline;
    std::size_t room = kMaxLine - partial_.size();
    if (line_end > room) {
      // Too long for one line: pass on a full piece, and go on with the rest.
      std::size_t take = cut_point(text, room);
      if (partial_.empty()) {
        emit(text.substr(0, take), true, sink);
      } else {
        partial_.append(text.substr(0, take));
        emit(partial_, true, sink);
        partial_.clear();
      }
      text.remove_prefix(take);
      continue;
    }
    if (newline == std::string_view::npos) {
      partial_.append(text);
      return;
    }
    if (partial_.empty()) {
      emit(text.substr(0, newline), false, sink);  // the common case: no copy
    } else {
      partial_.append(text.substr(0, newline));
      emit(partial_, false, sink);
      partial_.clear();
    }
    text.remove_prefix(newline + 1);
  }
}

void OutputLines::finish(const Sink& sink) {
  if (!partial_.empty()) emit(partial_, false, sink);
  partial_.clear();
  continued_ = false;
}

}  // namespace uni::worker
