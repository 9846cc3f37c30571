// The attackers of the security tests, written for them: peers that speak
// just enough of the wire to misbehave. RawTcp opens plain TCP connections
// to the manager's port and says what it likes (a ZMTP greeting, a
// handshake frame that claims hundreds of megabytes) without ever holding a
// key; RawPeer (tests/support/raw_peer.hpp) holds the cluster's key and
// sends whatever bytes it is given as protocol messages. Plus what the tests
// measure the manager by: its peak resident memory.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "proto/messages.hpp"
#include "raw_peer.hpp"
#include "test_cluster.hpp"

namespace uni::test {

// The port of "tcp://127.0.0.1:PORT".
int port_of(const std::string& endpoint);

// One plain TCP connection to 127.0.0.1:port, blocking, with a send timeout.
class RawTcp {
 public:
  // Throws std::runtime_error if nothing accepts.
  explicit RawTcp(int port);
  RawTcp(RawTcp&& other) noexcept;
  RawTcp& operator=(RawTcp&& other) noexcept;
  ~RawTcp();

  // Writes all of `bytes`; false once the connection is gone.
  bool write(std::string_view bytes);
  // Whether the other side has closed the connection (reads what is there
  // without blocking past `wait`).
  bool closed_by_peer(std::chrono::milliseconds wait = std::chrono::milliseconds(0));
  // Everything received until the peer closes or `timeout` passes.
  std::string read_all(std::chrono::milliseconds timeout);
  int fd() const { return fd_; }

 private:
  int fd_ = -1;
};

// A ZMTP 3.0 greeting asking for the CURVE mechanism, as a client.
std::string zmtp_greeting();
// The header of a ZMTP command frame claiming `size` bytes of body.
std::string zmtp_command_header(std::uint64_t size);

// The peak resident memory of process `pid` (VmHWM), in bytes; 0 if unknown.
std::uint64_t peak_rss(pid_t pid);
// Its resident memory now (VmRSS), in bytes.
std::uint64_t current_rss(pid_t pid);

// A msgpack message [type, 1, ...] whose body `fill` packs (`fields` of them).
template <class Fill>
std::string message(proto::Type type, std::uint32_t fields, Fill fill) {
  msgpack::sbuffer buffer;
  msgpack::packer<msgpack::sbuffer> p(buffer);
  p.pack_array(2 + fields);
  p.pack_uint8(static_cast<std::uint8_t>(type));
  p.pack_uint32(proto::kVersion);
  fill(p);
  return std::string(buffer.data(), buffer.size());
}

}  // namespace uni::test
