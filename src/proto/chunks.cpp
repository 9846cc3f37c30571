// CHUNK frames: reading, writing, cutting a message (see chunks.hpp).
#include "proto/chunks.hpp"

#include <cstdint>

#include "proto/messages.hpp"

namespace uni::proto {

namespace {

constexpr unsigned char kChunkType = static_cast<unsigned char>(Type::kChunk);

std::uint32_t big_endian(const unsigned char* p, int bytes) {
  std::uint32_t v = 0;
  for (int i = 0; i < bytes; ++i) v = (v << 8) | p[i];
  return v;
}

}  // namespace

ChunkParse parse_chunk(std::string_view frame, Chunk& out) {
  const auto* p = reinterpret_cast<const unsigned char*>(frame.data());
  // [type, version, ...]: a fixarray whose first element is 25. Other
  // messages start with another type, so one or two bytes decide.
  if (frame.size() < 2 || (p[0] & 0xf0) != 0x90 || p[1] != kChunkType)
    return ChunkParse::kNotAChunk;
  if (p[0] != 0x94 || frame.size() < 6 || p[2] != kVersion || (p[3] != 0xc2 && p[3] != 0xc3))
    return ChunkParse::kMalformed;
  int length_bytes = p[4] == 0xc4 ? 1 : p[4] == 0xc5 ? 2 : p[4] == 0xc6 ? 4 : 0;
  if (length_bytes == 0 || frame.size() < 5u + length_bytes) return ChunkParse::kMalformed;
  std::size_t header = 5 + static_cast<std::size_t>(length_bytes);
  if (big_endian(p + 5, length_bytes) != frame.size() - header) return ChunkParse::kMalformed;
  out.more = p[3] == 0xc3;
  out.piece = frame.substr(header);
  return ChunkParse::kChunk;
}

std::size_t write_chunk_header(char* out, bool more, std::size_t piece_size) {
  auto* p = reinterpret_cast<unsigned char*>(out);
  p[0] = 0x94;
  p[1] = kChunkType;
  p[2] = static_cast<unsigned char>(kVersion);
  p[3] = more ? 0xc3 : 0xc2;
  // The shortest bin header, as msgpack encoders write it.
  if (piece_size <= 0xff) {
    p[4] = 0xc4;
    p[5] = static_cast<unsigned char>(piece_size);
    return 6;
  }
  if (piece_size <= 0xffff) {
    p[4] = 0xc5;
    p[5] = static_cast<unsigned char>(piece_size >> 8);
    p[6] = static_cast<unsigned char>(piece_size);
    return 7;
  }
  p[4] = 0xc6;
  for (int i = 0; i < 4; ++i) p[5 + i] = static_cast<unsigned char>(piece_size >> (24 - 8 * i));
  return 9;
}

std::string encode_chunk(bool more, std::string_view piece) {
  char header[9];
  std::size_t n = write_chunk_header(header, more, piece.size());
  std::string out;
  out.reserve(n + piece.size());
  out.append(header, n);
  out.append(piece);
  return out;
}

bool send_in_frames(std::string_view message, const std::function<bool(std::string_view)>& send) {
  if (message.size() <= kMaxFrameBytes) return send(message);
  for (std::size_t at = 0; at < message.size(); at += kChunkPieceBytes) {
    std::string_view piece = message.substr(at, kChunkPieceBytes);
    if (!send(encode_chunk(at + piece.size() < message.size(), piece))) return false;
  }
  return true;
}

}  // namespace uni::proto
