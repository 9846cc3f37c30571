// A hostile peer for the security tests: a bare DEALER that speaks uni's
// protocol message by message, with whatever keys and routing id the test
// gives it — the shared authkey's client key, or a key file of its own — and
// says what a well-behaved boss or worker would never say (another worker's
// id, tasks it was never sent, another boss's session).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>
#include <zmq.hpp>

#include "common/keys.hpp"
#include "proto/messages.hpp"
#include "test_cluster.hpp"

namespace uni::test {

class AttackerPeer {
 public:
  // Connects to `cluster` with `keys`, as routing id `routing_id` if given.
  AttackerPeer(const TestCluster& cluster, const CurveKeys& keys,
               const std::optional<std::string>& routing_id = std::nullopt);
  // With the cluster's shared authkey (the one trust domain).
  static CurveKeys authkey_keys(const TestCluster& cluster);
  // With a keyed cluster's key NAME (its .secret file).
  static CurveKeys key_file_keys(const TestCluster& cluster, const std::string& name);

  // Sends one message, retrying while the handshake is not done.
  bool send(const std::string& bytes);
  // The next message that is not a HEARTBEAT or NOTICE; nullopt on timeout.
  std::optional<proto::Message> receive(std::chrono::milliseconds timeout);
  // The first message of `type` within `timeout` (others are dropped).
  std::optional<proto::Message> expect(proto::Type type, std::chrono::milliseconds timeout);

 private:
  zmq::context_t context_;
  zmq::socket_t socket_;
};

// A worker's HELLO: `id`, room for `capacity` tasks, holding `running`.
std::string worker_hello(const std::string& id, std::uint32_t capacity,
                         const std::vector<proto::RunningTask>& running = {},
                         const std::string& secret = "");
// A session of a keyed cluster's key NAME (its owner tag above 32 bits).
std::uint64_t session_of_key(const TestCluster& cluster, const std::string& name);
// A boss's HELLO for `session`.
std::string boss_hello(std::uint64_t session, const std::string& secret = "");
// A RESULT of `id`: ok, with `value` (msgpack) as its result.
std::string forged_result(const proto::TaskId& id, const std::string& msgpack_value);
// A msgpack unsigned integer.
std::string msgpack_uint(std::uint64_t v);

}  // namespace uni::test
