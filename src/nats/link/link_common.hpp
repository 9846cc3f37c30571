// What the NATS boss and worker links share: the engine configuration for an
// address, the BrokerInfo and BrokerIdentity they report, and the mapping of
// a failed first connection onto the seam's ConnectFailure (and of any
// failure onto the API's errors).
#pragma once

#include <chrono>
#include <exception>
#include <string>

#include "broker/broker_info.hpp"
#include "nats/client/connection.hpp"
#include "nats/store/engine_config.hpp"

namespace uni::nats {

// What both links say about the cluster, and their mapping of a failed first
// connection onto the seam's broker::ConnectFailure (wrong credentials and
// TLS failures: kAuthFailed, exit 3; no server: kUnreachable).
broker::BrokerInfo nats_broker_info(Connection& connection);
[[noreturn]] void throw_connect_failure(const std::exception& error);
// The same failures as the API reports them, for what a link does without
// opening (detached tasks): uni::ConnectError if the cluster cannot be
// reached or refused the credentials, uni::Error for its other failures and
// an unreadable address or setting. Call from the handler of `error`.
[[noreturn]] void throw_api_error(const std::exception& error);
// The NATS cluster at `address`, named "the NATS cluster at
// nats://h1:4222,nats://h2:4222" (never credentials), with no manager.
broker::BrokerIdentity cluster_identity(const std::string& address);
// The engine configuration for `address`, its first connect bounded by `timeout`.
EngineConfig link_config(const std::string& address, std::chrono::milliseconds timeout);

}  // namespace uni::nats
