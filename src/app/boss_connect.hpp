// A boss's link to the broker an address names, not yet opened, with its
// keys (a client key file, or the authkey) looked for only if the address
// names a uni manager: what uni::connect and the C ABI (c_api.cpp) start a
// client on.
#pragma once

#include <string>

#include "client/client.hpp"

namespace uni::app {

// `address` empty: $UNI_CONNECT, else tcp://127.0.0.1:7070. Throws
// ConnectError (no authkey) or uni::Error (an unreadable key file).
detail::UnopenedLink boss_link(const std::string& address, const ConnectOptions& options);

}  // namespace uni::app
