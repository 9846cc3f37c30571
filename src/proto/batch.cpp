// Encoded sizes of the list messages' records (see batch.hpp). They follow
// write_task() and encode_results() in messages.cpp field by field, and
// msgpack-c's packer, which always picks the shortest form of a number, string,
// binary or array header.
#include "proto/batch.hpp"

namespace uni::proto {

namespace {

std::size_t uint_size(std::uint64_t v) {
  if (v < 128) return 1;  // positive fixint
  if (v <= 0xff) return 2;
  if (v <= 0xffff) return 3;
  if (v <= 0xffffffff) return 5;
  return 9;
}

std::size_t str_size(std::size_t n) {
  if (n < 32) return 1 + n;  // fixstr
  if (n <= 0xff) return 2 + n;
  if (n <= 0xffff) return 3 + n;
  return 5 + n;
}

std::size_t bin_size(std::size_t n) {
  if (n <= 0xff) return 2 + n;
  if (n <= 0xffff) return 3 + n;
  return 5 + n;
}

std::size_t array_header_size(std::size_t n) {
  if (n < 16) return 1;  // fixarray
  if (n <= 0xffff) return 3;
  return 5;
}

std::size_t id_size(const TaskId& id) { return uint_size(id.session) + uint_size(id.seq); }

}  // namespace

std::size_t encoded_size(const Task& t) {
  return array_header_size(10) + id_size(t.id) + bin_size(sizeof(ModuleHash::bytes)) +
         str_size(t.function.size()) + bin_size(t.args.size()) + uint_size(t.timeout_ms) +
         uint_size(t.wait_ms) + uint_size(t.max_attempts) + uint_size(t.flags) +
         uint_size(t.attempt);
}

std::size_t encoded_size(const Result& r) {
  return array_header_size(8) + id_size(r.id) + uint_size(static_cast<std::uint8_t>(r.status)) +
         bin_size(r.payload.size()) + str_size(r.worker.size()) + str_size(r.host.size()) +
         uint_size(r.pid) + uint_size(r.attempt);
}

std::size_t list_message_size(std::size_t count, std::size_t records_bytes) {
  // [type, version, [records...]]
  return array_header_size(3) + uint_size(static_cast<std::uint8_t>(Type::kResult)) +
         uint_size(kVersion) + array_header_size(count) + records_bytes;
}

}  // namespace uni::proto
