// What listens at an address that refused a CURVE handshake: a uni manager
// with another authkey, or something else (a NATS server, a web server) that
// a wrong scheme or port pointed at. Asked only after a failed handshake.
#pragma once

#include <optional>
#include <string>

namespace uni::proto {

// A sentence saying what listens at `endpoint` ("tcp://HOST:PORT") when it is
// not a ZeroMQ peer, or nullopt when it is one or cannot be told (a peer that
// sends nothing may be a web server or a manager too busy to greet): then the
// caller judges by how the handshake failed. Connects and reads its first bytes,
// for at most about a second.
std::optional<std::string> not_a_manager(const std::string& endpoint);

}  // namespace uni::proto
