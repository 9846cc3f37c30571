// What the security tests' raw peer (RawPeer, tests/support/raw_peer.hpp)
// says that a well-behaved boss or worker never would: a worker's HELLO
// holding tasks it was never sent, another boss's session, a forged result.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "proto/messages.hpp"
#include "raw_peer.hpp"
#include "test_cluster.hpp"

namespace uni::test {

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
