// The echo module's interface, for bosses that link it.
#pragma once

#include <uni/service.hpp>

// Serves TCP clients on 127.0.0.1:port, answering each line they send, until
// a client sends a line "QUIT"; then returns the port. Throws
// std::system_error if the port cannot be bound. The context is not an
// argument (cluster.spawn(server, 5001)): it lets the running server become
// another version of itself (uni become) without dropping a client.
int server(uni::ServiceContext& ctx, int port);
