// The supervisor <-> executor channel: a stream socketpair carrying frames of
// [u32 little-endian length][msgpack body]. The supervisor side is
// non-blocking and driven by its poll loop; the executor side blocks. Both
// sides batch: several frames travel in one write whenever several are ready.
//
// Messages (each a msgpack array):
//   supervisor -> executor  [1 RUN, tag u64, module path, function, args bin]
//                           [2 UNLOAD, module path]
//   executor -> supervisor  [3 DONE, tag u64, status u8, payload bin, elapsed ns u64]
//                           [4 OUTPUT, tag u64, stream u8 (1 stdout, 2 stderr), bytes bin]
//                           [5 RETIRE, out of memory bool, reason str]: replace me once
//                             what was handed over is done (out of memory: it is all
//                             handed back, not run)
//   supervisor -> executor  [6 BECOME, tag u64, request id u64, module path, function]:
//                             read only once the service `tag` has handed over
//   executor -> supervisor  [7 BECAME, tag u64, request id u64, ok bool, text str,
//                             handover ns u64]: the new version took over (ok), or
//                             why not (the old version resumed)
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace uni::worker {

inline constexpr std::uint8_t kRun = 1;
inline constexpr std::uint8_t kUnload = 2;
inline constexpr std::uint8_t kDone = 3;
inline constexpr std::uint8_t kOutput = 4;
inline constexpr std::uint8_t kRetire = 5;
inline constexpr std::uint8_t kBecome = 6;
inline constexpr std::uint8_t kBecame = 7;

// A frame larger than this is a broken peer, not a message.
inline constexpr std::uint32_t kMaxFrame = 1u << 30;

// Appends one frame (length prefix + body) to `out`.
void append_frame(std::string& out, std::string_view body);

// Accumulates bytes read from a stream and cuts them into frames.
class FrameReader {
 public:
  // Reads what the fd has; with `wait`, blocks until there is something.
  // Returns false on end of stream or error.
  bool fill(int fd, bool wait = false);
  // Whether a whole frame is buffered.
  bool has_frame() const;
  // The next complete frame, if any. Throws std::runtime_error on a bad length.
  std::optional<std::string> next();

 private:
  std::string buffer_;
  std::size_t start_ = 0;
};

// Writes as much of `pending` as the non-blocking fd takes; erases what was
// written. Returns false if the peer is gone.
bool write_some(int fd, std::string& pending);

// Blocking write of the whole buffer. Returns false if the peer is gone.
bool write_all(int fd, std::string_view data);

}  // namespace uni::worker
