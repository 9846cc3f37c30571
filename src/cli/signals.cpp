// Stop-signal plumbing (see signals.hpp).
#include "cli/signals.hpp"

#include <signal.h>
#include <unistd.h>

#include <atomic>

namespace uni::cli {

namespace {
std::atomic<void (*)(void*)> g_stop{nullptr};
std::atomic<void*> g_arg{nullptr};
std::atomic<int> g_signal{0};

void handler(int sig) {
  if (g_signal.exchange(sig) != 0) ::_exit(128 + sig);  // second Ctrl-C: leave now
  if (auto stop = g_stop.load()) stop(g_arg.load());
}
}  // namespace

void on_stop_signal(void (*stop)(void*), void* arg) {
  g_arg = arg;
  g_stop = stop;
  struct sigaction sa {};
  sa.sa_handler = handler;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

int received_stop_signal() { return g_signal.load(); }

namespace {
std::atomic<void (*)(void*)> g_reload{nullptr};
std::atomic<void*> g_reload_arg{nullptr};

void reload_handler(int) {
  if (auto reload = g_reload.load()) reload(g_reload_arg.load());
}
}  // namespace

void on_reload_signal(void (*reload)(void*), void* arg) {
  g_reload_arg = arg;
  g_reload = reload;
  struct sigaction sa {};
  sa.sa_handler = reload_handler;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction(SIGHUP, &sa, nullptr);
}

}  // namespace uni::cli
