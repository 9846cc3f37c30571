// The attackers of the security tests, written for them: peers that speak
// just enough of the wire to misbehave. RawTcp opens plain TCP connections
// to the manager's port and says what it likes (a ZMTP greeting, a
// handshake frame that claims hundreds of megabytes) without ever holding a
// key; RawZmqPeer holds the cluster's key and sends whatever bytes it is
// given as protocol messages. Plus what the tests measure the manager by:
// its peak resident memory.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <zmq.hpp>

#include "proto/messages.hpp"
#include "test_cluster.hpp"

namespace uni::test {

inline bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

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

// A DEALER with the cluster's client keys, connected to its manager: an
// authenticated peer that sends what the test gives it.
class RawZmqPeer {
 public:
  RawZmqPeer(TestCluster& cluster, const std::string& routing_id);

  // Sends a message as the reference peers do (CHUNKs if larger than a frame).
  bool send(std::string_view message);
  // Sends one frame as it is, whatever its size.
  bool send_frame(std::string_view frame);
  // The next message that is not a HEARTBEAT or NOTICE; nullopt on timeout.
  std::optional<proto::Message> receive(std::chrono::milliseconds timeout);
  // Whether the manager ended this peer's connection within `timeout`
  // (the socket monitor saw it disconnect).
  bool disconnected_within(std::chrono::milliseconds timeout);
  // HELLO as a boss of this session, and its WELCOME; false without one.
  bool hello_as_boss(std::uint64_t session);

 private:
  zmq::context_t context_;
  zmq::socket_t socket_;
  zmq::socket_t monitor_;
  zmq::message_t last_;  // kept: a parsed Message points into it
};

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
