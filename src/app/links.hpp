// Choosing the broker from the address a boss or worker is given (issue 9):
// "tcp://host:port" (or "host:port") is uni's built-in manager, reached over
// ZeroMQ + CURVE; "nats://..." or "tls://..." names a NATS JetStream cluster
// (src/nats/nats_*_link.hpp, no manager). The only place that knows which
// implementations there are.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "broker/boss_link.hpp"
#include "broker/worker_link.hpp"
#include "common/keys.hpp"

namespace uni::broker {

enum class BrokerKind { kManager, kNats };
BrokerKind broker_kind(std::string_view address);

// The CURVE keys for the built-in manager. Asked for only when the address
// names one: they come from the authkey (a KDF, or the key cache), and a NATS
// cluster takes its own credentials instead.
using CurveKeysSource = std::function<CurveKeys()>;

// An unopened link for a boss of `session`, or for the worker `worker_id`.
// Throws whatever `keys` throws (asked only for a manager's address).
std::unique_ptr<BossLink> make_boss_link(const std::string& address, std::uint64_t session,
                                         const CurveKeysSource& keys);
std::unique_ptr<WorkerLink> make_worker_link(const std::string& address,
                                             const std::string& worker_id,
                                             const CurveKeysSource& keys);

}  // namespace uni::broker
