// A raw protocol peer for the tests: a bare DEALER with CURVE keys that
// speaks uni's protocol message by message — whatever bytes a test gives it,
// with whatever key (the shared authkey's client key, or a key file of its
// own) and routing id. The protocol tests use it to send what no client
// would; the security tests, to say what a well-behaved boss or worker never
// says (another worker's id, tasks it was never sent, oversized frames).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <zmq.hpp>

#include "common/keys.hpp"
#include "proto/messages.hpp"
#include "test_cluster.hpp"

namespace uni::test {

class RawPeer {
 public:
  // Connects to `cluster` with `keys`, as routing id `routing_id` if given
  // (the manager's ROUTER ignores it for who the peer is).
  RawPeer(const TestCluster& cluster, const CurveKeys& keys,
          const std::optional<std::string>& routing_id = std::nullopt);
  // With the cluster's shared authkey.
  RawPeer(const TestCluster& cluster, const std::string& routing_id);
  RawPeer(const RawPeer&) = delete;
  RawPeer& operator=(const RawPeer&) = delete;

  // The client keys of the cluster's shared authkey (the one trust domain).
  static CurveKeys authkey_keys(const TestCluster& cluster);
  // The keys of a keyed cluster's key NAME (its .secret file).
  static CurveKeys key_file_keys(const TestCluster& cluster, const std::string& name);

  // Sends a message as the reference peers do (CHUNKs if larger than a
  // frame), retrying while the handshake is not done.
  bool send(std::string_view message);
  // Sends one frame as it is, whatever its size.
  bool send_frame(std::string_view frame);
  // The next message that is not a HEARTBEAT or NOTICE; nullopt on timeout.
  std::optional<proto::Message> receive(
      std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // The first message of `type` within `timeout` (others are dropped).
  std::optional<proto::Message> expect(proto::Type type, std::chrono::milliseconds timeout);
  // Whether the manager ended this peer's connection within `timeout` (the
  // socket monitor saw it disconnect).
  bool disconnected_within(std::chrono::milliseconds timeout);
  // HELLO as a boss of `session`, and its WELCOME; false without one.
  bool hello_as_boss(std::uint64_t session);

 private:
  zmq::context_t context_;
  zmq::socket_t socket_;
  zmq::socket_t monitor_;
};

}  // namespace uni::test
