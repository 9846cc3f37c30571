// Messages larger than one frame travel as a run of CHUNK messages
// (docs/protocol.md §4.1). The manager reads frames of at most
// kMaxFrameBytes from its peers, so that whatever a connection sends before
// it has authenticated costs the manager kilobytes, not --max-message; a peer
// cuts a larger message (a module, big arguments, a worker's HELLO with many
// held tasks) into pieces, each a whole ZeroMQ message of its own, and the
// manager puts them back together within its limits (manager/chunk_assembler).
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace uni::proto {

// Largest frame a boss or worker may send the manager. The manager's socket
// takes a little more (CURVE's box around each frame, kFrameSlackBytes);
// libzmq drops a connection that announces a larger frame, before or after
// the handshake.
inline constexpr std::size_t kMaxFrameBytes = 64 << 10;
inline constexpr std::size_t kFrameSlackBytes = 256;
// Message bytes one CHUNK carries at most: its own header takes at most 9.
inline constexpr std::size_t kChunkPieceBytes = kMaxFrameBytes - 16;
// Messages of at most this many bytes go in one frame: the batches bosses
// and workers send (SUBMIT, RESULT) are cut here, so the hot path never
// chunks; only a single large record does.
inline constexpr std::size_t kPeerBatchBytes = kMaxFrameBytes;

// A CHUNK: [25, 1, more: bool, piece: bin]. `more` is false on the last
// piece of the message.
struct Chunk {
  bool more = false;
  std::string_view piece;  // points into the frame it was read from
};

enum class ChunkParse {
  kNotAChunk,  // any other message: handle it as one
  kChunk,
  kMalformed,  // type 25, but not [25, 1, bool, bin] filling the frame
};
// Reads a frame without msgpack-cxx and without allocating: a CHUNK's layout
// is fixed, and the manager looks at every frame this way.
ChunkParse parse_chunk(std::string_view frame, Chunk& out);

// The CHUNK header for a piece of `piece_size` bytes (at most 9 bytes,
// written to `out`); returns its length. The piece follows it.
std::size_t write_chunk_header(char* out, bool more, std::size_t piece_size);
std::string encode_chunk(bool more, std::string_view piece);

// Calls `send` with each frame `message` travels as: itself if it fits in
// kMaxFrameBytes, else its CHUNKs in order. Stops at the first frame `send`
// refuses and returns false then (the message did not go out whole; the
// manager drops a run that another message interrupts).
bool send_in_frames(std::string_view message, const std::function<bool(std::string_view)>& send);

}  // namespace uni::proto
