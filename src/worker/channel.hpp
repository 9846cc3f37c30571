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
//   supervisor -> executor  [8 LOAD, module path, hash bin(32)], its first byte carrying
//                             the module's sealed image (module_image.hpp) as SCM_RIGHTS:
//                             sent before the first RUN or BECOME of a module in this
//                             executor; the path is only the module's name from then on
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>

#include "common/unique_fd.hpp"

namespace uni::worker {

inline constexpr std::uint8_t kRun = 1;
inline constexpr std::uint8_t kUnload = 2;
inline constexpr std::uint8_t kDone = 3;
inline constexpr std::uint8_t kOutput = 4;
inline constexpr std::uint8_t kRetire = 5;
inline constexpr std::uint8_t kBecome = 6;
inline constexpr std::uint8_t kBecame = 7;
inline constexpr std::uint8_t kLoad = 8;

// A frame larger than this is a broken peer, not a message.
inline constexpr std::uint32_t kMaxFrame = 1u << 30;

// Appends one frame (length prefix + body) to `out`.
void append_frame(std::string& out, std::string_view body);

// Accumulates bytes read from a stream and cuts them into frames.
class FrameReader {
 public:
  // With `receive_fds`, descriptors that come with the bytes (SCM_RIGHTS)
  // are kept, in the order they came, for take_fd(); otherwise the kernel
  // closes them (the supervisor accepts none from an executor).
  explicit FrameReader(bool receive_fds = false) : receive_fds_(receive_fds) {}
  // Reads what the fd has; with `wait`, blocks until there is something.
  // Returns false on end of stream or error.
  bool fill(int fd, bool wait = false);
  // Whether a whole frame is buffered.
  bool has_frame() const;
  // The next complete frame, if any. Throws std::runtime_error on a bad length.
  std::optional<std::string> next();
  // The oldest descriptor received and not yet taken; empty if none. A LOAD
  // frame takes the one sent with it: LOADs are handled in the order they
  // come, and each came with one.
  UniqueFd take_fd();

 private:
  bool receive_fds_ = false;
  std::string buffer_;
  std::size_t start_ = 0;
  std::deque<UniqueFd> fds_;
};

// Writes as much of `pending` as the non-blocking fd takes; erases what was
// written. Returns false if the peer is gone.
bool write_some(int fd, std::string& pending);

// A descriptor to send with the byte at `offset` of a pending buffer.
struct OutgoingFd {
  std::size_t offset = 0;
  UniqueFd fd;
};

// write_some, sending each of `fds` with the byte at its offset (sendmsg,
// SCM_RIGHTS); offsets are moved along with what is erased. With no fds it
// is write_some.
bool write_some(int fd, std::string& pending, std::deque<OutgoingFd>& fds);

// Blocking write of the whole buffer. Returns false if the peer is gone.
bool write_all(int fd, std::string_view data);

}  // namespace uni::worker
