// The NATS links' shared helpers (see link_common.hpp).
#include "nats/link/link_common.hpp"

#include <algorithm>
#include <stdexcept>

#include "broker/connect_failure.hpp"
#include "nats/client/address.hpp"
#include "nats/client/error.hpp"
#include "uni/uni.hpp"
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
  using broker::ConnectFailure;
  using Reason = ConnectFailure::Reason;
  if (const auto* nats = dynamic_cast<const NatsError*>(&error)) {
    switch (nats->kind()) {
      case FailureKind::kAuthFailed:
      case FailureKind::kTls: throw ConnectFailure(Reason::kAuthFailed, nats->what());
      case FailureKind::kUnreachable:
      case FailureKind::kTimeout:
      case FailureKind::kNoResponders: throw ConnectFailure(Reason::kUnreachable, nats->what());
      default:
        throw ConnectFailure(Reason::kProtocol,
                             std::string("the NATS cluster refused uni's set-up: ") + nats->what());
    }
  }
  // An address, seed or setting that cannot be read: waiting will not help.
  throw ConnectFailure(Reason::kProtocol, error.what());
}

void throw_api_error(const std::exception& error) {
  if (const auto* nats = dynamic_cast<const NatsError*>(&error)) {
    switch (nats->kind()) {
      case FailureKind::kAuthFailed:
      case FailureKind::kTls: throw ConnectError(ConnectError::Reason::kAuthFailed, nats->what());
      case FailureKind::kUnreachable:
        throw ConnectError(ConnectError::Reason::kUnreachable, nats->what());
      default: break;
    }
    // A cluster that did not answer in the command's wait (no quorum, no
    // leader): not a usage error.
    if (is_transient(*nats)) throw ConnectError(ConnectError::Reason::kUnreachable, nats->what());
    throw Error(nats->what());
  }
  // An address or a setting that cannot be read.
  if (dynamic_cast<const std::invalid_argument*>(&error)) throw Error(error.what());
  throw;  // anything else as it came
}

broker::BrokerIdentity cluster_identity(const std::string& address) {
  broker::BrokerIdentity identity;
  identity.kind = "NATS cluster";
  identity.has_manager = false;
  try {
    identity.address = NatsAddress::parse(address).servers_text();
    identity.name = "the NATS cluster at " + identity.address;
  } catch (const std::exception&) {
    identity.name = "a NATS cluster";
  }
  return identity;
}

EngineConfig link_config(const std::string& address, std::chrono::milliseconds timeout) {
  EngineConfig config = EngineConfig::from_environment(address);
  config.connect.connect_deadline =
      std::clamp(timeout, std::chrono::milliseconds(100), std::chrono::milliseconds(4000));
  return config;
}

}  // namespace uni::nats
