// The broker implementations by address (see broker.hpp).
#include "broker/broker.hpp"

#include "broker/zmq_boss_link.hpp"
#include "broker/zmq_worker_link.hpp"
#include "proto/transport.hpp"

namespace uni::broker {

namespace {

// The same rule as nats::is_nats_address (src/nats/address.hpp); not called
// from here so that bosses and workers do not link libnats before the NATS
// links exist. The NATS links will take its parser (NatsAddress::parse).
bool names_nats(std::string_view address) {
  return address.starts_with("nats://") || address.starts_with("tls://");
}

// The address is not repeated: a NATS URL may hold a password or a token.
[[noreturn]] void nats_not_built(const std::string& address) {
  std::string scheme = address.substr(0, address.find("://"));
  throw proto::ConnectFailure(
      proto::ConnectFailure::Reason::kProtocol,
      "cannot connect to a " + scheme +
          ":// address: NATS JetStream clusters are not supported yet (issue 9); give the "
          "address of a uni manager (tcp://HOST:PORT)");
}

}  // namespace

BrokerKind broker_kind(std::string_view address) {
  return names_nats(address) ? BrokerKind::kNats : BrokerKind::kManager;
}

std::unique_ptr<BossLink> make_boss_link(const std::string& address, std::uint64_t session,
                                         const CurveKeysSource& keys) {
  switch (broker_kind(address)) {
    case BrokerKind::kManager: return std::make_unique<ZmqBossLink>(keys(), address, session);
    case BrokerKind::kNats: nats_not_built(address);
  }
  nats_not_built(address);
}

std::unique_ptr<WorkerLink> make_worker_link(const std::string& address,
                                             const std::string& worker_id,
                                             const CurveKeysSource& keys) {
  switch (broker_kind(address)) {
    case BrokerKind::kManager: return std::make_unique<ZmqWorkerLink>(keys(), address, worker_id);
    case BrokerKind::kNats: nats_not_built(address);
  }
  nats_not_built(address);
}

}  // namespace uni::broker
