// The broker implementations by address (see broker.hpp).
#include "broker/broker.hpp"

#include "broker/zmq_boss_link.hpp"
#include "broker/zmq_worker_link.hpp"
#include "nats/nats_boss_link.hpp"
#include "nats/nats_worker_link.hpp"
#include "proto/transport.hpp"

namespace uni::broker {

namespace {

// The same rule as nats::is_nats_address (src/nats/address.hpp).
bool names_nats(std::string_view address) {
  return address.starts_with("nats://") || address.starts_with("tls://");
}

}  // namespace

BrokerKind broker_kind(std::string_view address) {
  return names_nats(address) ? BrokerKind::kNats : BrokerKind::kManager;
}

std::unique_ptr<BossLink> make_boss_link(const std::string& address, std::uint64_t session,
                                         const CurveKeysSource& keys) {
  switch (broker_kind(address)) {
    case BrokerKind::kManager: return std::make_unique<ZmqBossLink>(keys(), address, session);
    case BrokerKind::kNats: break;
  }
  return std::make_unique<nats::NatsBossLink>(address, session);
}

std::unique_ptr<WorkerLink> make_worker_link(const std::string& address,
                                             const std::string& worker_id,
                                             const CurveKeysSource& keys) {
  switch (broker_kind(address)) {
    case BrokerKind::kManager: return std::make_unique<ZmqWorkerLink>(keys(), address);
    case BrokerKind::kNats: break;
  }
  return std::make_unique<nats::NatsWorkerLink>(address, worker_id);
}

}  // namespace uni::broker
