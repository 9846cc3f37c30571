// libFuzzer target: the STATUS_REPLY map as bosses read it
// (read_status_report in src/proto/status.cpp): any bytes must read or throw
// a DecodeError; a map that reads packs again and reads back the same.
#include <cstdint>
#include <cstdlib>
#include <stdexcept>

#include "proto/messages.hpp"
#include "proto/status.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  msgpack::object_handle handle;
  try {
    handle = uni::detail::unpack_checked(reinterpret_cast<const char*>(data), size);
  } catch (const std::exception&) {
    return 0;
  }
  uni::proto::StatusReport report;
  try {
    report = uni::proto::read_status_report(handle.get());
  } catch (const uni::proto::DecodeError&) {
    return 0;
  }
  std::string packed = uni::proto::pack_status_report(report);
  msgpack::object_handle again = uni::detail::unpack_checked(packed.data(), packed.size());
  uni::proto::StatusReport back = uni::proto::read_status_report(again.get());
  if (uni::proto::pack_status_report(back) != packed) std::abort();  // a lossy round trip
  return 0;
}
