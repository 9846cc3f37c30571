// The NATS links' shared helpers (see link_common.hpp).
#include "nats/link/link_common.hpp"

#include <algorithm>
#include <stdexcept>

#include "broker/zmq/transport.hpp"
#include "nats/client/address.hpp"
#include "nats/client/error.hpp"
#include "uni/version.hpp"

namespace uni::nats {

broker::BrokerInfo nats_broker_info(Connection& connection) {
  broker::BrokerInfo info;
  info.id = "nats";
  info.version = UNI_VERSION_STRING;
  info.heartbeat = std::chrono::milliseconds(1000);
  // Modules go to the object store in chunks, so no message limit applies to
  // them; a task or result over the server's max payload is refused by the
  // engines with a message that says so.
  info.max_message = std::max<std::uint64_t>(64ull << 20, connection.max_payload());
  info.max_module = 0;
  return info;
}

void throw_connect_failure(const std::exception& error) {
  using Reason = proto::ConnectFailure::Reason;
  if (const auto* nats = dynamic_cast<const NatsError*>(&error)) {
    switch (nats->kind()) {
      case FailureKind::kAuthFailed:
      case FailureKind::kTls: throw proto::ConnectFailure(Reason::kAuthFailed, nats->what());
      case FailureKind::kUnreachable:
      case FailureKind::kTimeout:
      case FailureKind::kNoResponders:
        throw proto::ConnectFailure(Reason::kUnreachable, nats->what());
      default:
        throw proto::ConnectFailure(
            Reason::kProtocol,
            std::string("the NATS cluster refused uni's set-up: ") + nats->what());
    }
  }
  // An address, seed or setting that cannot be read: waiting will not help.
  throw proto::ConnectFailure(Reason::kProtocol, error.what());
}

std::string cluster_name(const std::string& address) {
  try {
    return "the NATS cluster at " + NatsAddress::parse(address).servers_text();
  } catch (const std::exception&) {
    return "a NATS cluster";
  }
}

EngineConfig link_config(const std::string& address, std::chrono::milliseconds timeout) {
  EngineConfig config = EngineConfig::from_environment(address);
  config.connect.connect_deadline =
      std::clamp(timeout, std::chrono::milliseconds(100), std::chrono::milliseconds(4000));
  return config;
}

}  // namespace uni::nats
