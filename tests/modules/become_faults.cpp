// become_faults: new versions of the echo service that cannot take it over,
// one way each, for the become tests: the old version must resume with its
// state and connections every time. Also a service that never hands over.
#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>

#include <uni/module.hpp>

// Expects a string where the echo service hands over its EchoState: the
// state does not decode, take_over() throws.
int wrong_state(uni::ServiceContext& ctx, int port) {
  auto prior = ctx.take_over<std::string>();
  return prior ? port : -port;
}

// Fails as it starts, before it takes anything over.
int throws_at_start(uni::ServiceContext&, int port) {
  throw std::runtime_error("v2 cannot start on port " + std::to_string(port));
}

// Returns at once without taking over.
int returns_at_once(uni::ServiceContext&, int port) { return port; }

// A plain function: it cannot take a service over (no context).
int no_context(int port) { return port; }

// A service that could be handed over but never looks: it sleeps `ms`
// milliseconds without polling handover_fd().
int deaf(uni::ServiceContext&, int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  return ms;
}

UNI_EXPORT(wrong_state);
UNI_EXPORT(throws_at_start);
UNI_EXPORT(returns_at_once);
UNI_EXPORT(no_context);
UNI_EXPORT(deaf);
