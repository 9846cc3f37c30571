// The broker implementations by address (see links.hpp).
#include "app/links.hpp"

#include "broker/zmq/manager_connection.hpp"
#include "broker/zmq/transport.hpp"
#include "broker/zmq/zmq_boss_link.hpp"
#include "broker/zmq/zmq_worker_link.hpp"
#include "nats/client/address.hpp"
#include "nats/link/link_common.hpp"
#include "nats/link/nats_boss_link.hpp"
#include "nats/link/nats_worker_link.hpp"

namespace uni::app {

namespace {

// The one rule, NATS's own (nats/client/address.hpp): nats:// or tls://.
bool names_nats(const std::string& address) { return nats::is_nats_address(address); }

}  // namespace

broker::BrokerIdentity broker_identity(const std::string& address) {
  return names_nats(address) ? nats::cluster_identity(address) : broker::manager_identity(address);
}

std::unique_ptr<broker::BossLink> make_boss_link(const std::string& address, std::uint64_t session,
                                                 const CurveKeysSource& keys) {
  if (names_nats(address)) return std::make_unique<nats::NatsBossLink>(address, session);
  return std::make_unique<broker::ZmqBossLink>(keys(), address, session);
}

std::unique_ptr<broker::WorkerLink> make_worker_link(const std::string& address,
                                                     const CurveKeysSource& keys) {
  if (names_nats(address)) return std::make_unique<nats::NatsWorkerLink>(address);
  return std::make_unique<broker::ZmqWorkerLink>(keys(), address);
}

std::string address_problem(const std::string& address) {
  std::size_t sep = address.find("://");
  if (sep == std::string::npos) return {};  // HOST:PORT, as tcp://
  std::string given = address.substr(0, sep);
  if (given == "tcp" || names_nats(address)) return {};
  return "unknown scheme " + given + ":// in " + address +
         ": use tcp://HOST:PORT (the built-in manager), nats://HOST:PORT or tls://HOST:PORT (NATS)";
}

std::string shown_address(const std::string& address) {
  return names_nats(address) ? address : proto::normalize_endpoint(address);
}

}  // namespace uni::app
