// The echo module's interface, for bosses that link it.
#pragma once

// Serves TCP clients on 127.0.0.1:port, echoing what they send, until a
// client sends a line "QUIT"; then returns the port. Throws std::system_error
// if the port cannot be bound.
int server(int port);
