// The composition root: the one place that knows which brokers there are,
// and which one an address names — "tcp://host:port" (or "host:port") the
// built-in manager over ZeroMQ + CURVE (src/broker/zmq/), "nats://..." or
// "tls://..." a NATS JetStream cluster (src/nats/link/). The `uni` binary and
// libuni-client link it; the client and the supervisor are handed the link
// it makes and never ask which broker it is (docs/architecture.md §12).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "broker/boss_link.hpp"
#include "broker/broker_info.hpp"
#include "broker/worker_link.hpp"
#include "common/keys.hpp"

namespace uni::app {

// The broker `address` names, before any connection: what the user is told
// about it, and whether a manager runs (which takes the authkey; a NATS
// cluster takes its own credentials instead).
broker::BrokerIdentity broker_identity(const std::string& address);

// The CURVE keys for the built-in manager. Asked for only when the address
// names one: they come from the authkey (a KDF, or the key cache).
using CurveKeysSource = std::function<CurveKeys()>;

// An unopened link for a boss of `session`, or for a worker (which names
// itself when it opens the link). Throws whatever `keys` throws.
std::unique_ptr<broker::BossLink> make_boss_link(const std::string& address, std::uint64_t session,
                                                 const CurveKeysSource& keys);
std::unique_ptr<broker::WorkerLink> make_worker_link(const std::string& address,
                                                     const CurveKeysSource& keys);

// Why `address` names no broker ("" when it names one): an unknown scheme
// (a typo such as nat://), told with the schemes there are.
std::string address_problem(const std::string& address);

// The address as Cluster::address() reports it: "host:port" becomes
// "tcp://host:port"; any other passes unchanged.
std::string shown_address(const std::string& address);

}  // namespace uni::app
