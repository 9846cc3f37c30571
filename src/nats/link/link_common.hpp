// What the NATS boss and worker links share: the engine configuration for an
// address, the BrokerInfo they report, their name for messages, and the
// mapping of a failed first connection onto the seam's ConnectFailure.
#pragma once

#include <chrono>
#include <exception>
#include <string>

#include "broker/broker_info.hpp"
#include "nats/client/connection.hpp"
#include "nats/store/engine_config.hpp"

namespace uni::nats {

// What both links say about the cluster, and their mapping of a failed first
// connection onto the seam's proto::ConnectFailure (wrong credentials and
// TLS failures: kAuthFailed, exit 3; no server: kUnreachable).
broker::BrokerInfo nats_broker_info(Connection& connection);
[[noreturn]] void throw_connect_failure(const std::exception& error);
// "the NATS cluster at nats://h1:4222,nats://h2:4222" (never credentials).
std::string cluster_name(const std::string& address);
// The engine configuration for `address`, its first connect bounded by `timeout`.
EngineConfig link_config(const std::string& address, std::chrono::milliseconds timeout);

}  // namespace uni::nats
