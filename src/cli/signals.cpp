// Stop-signal plumbing (see signals.hpp).
#include "cli/signals.hpp"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstring>

namespace uni::cli {

namespace {
std::atomic<void (*)(void*)> g_stop{nullptr};
std::atomic<void*> g_arg{nullptr};
std::atomic<int> g_signal{0};
std::atomic<bool> g_withdrawing{false};
std::atomic<int> g_repeats{0};

void say(const char* text) { [[maybe_unused]] ssize_t n = ::write(2, text, std::strlen(text)); }

void handler(int sig) {
  if (g_signal.exchange(sig) != 0) {
    // A second Ctrl-C while the tasks are withdrawn would leave them running
    // on the cluster until the manager gives up on this boss (--boss-grace):
    // the withdrawal takes well under a second, so it is waited for.
    if (g_withdrawing.load() && g_repeats.fetch_add(1) == 0) {
      say("uni: withdrawing this command's tasks from the cluster first; interrupt once more to "
          "leave at once (tasks not yet withdrawn then run until the manager drops them, after "
          "its --boss-grace)\n");
      return;
    }
    ::_exit(128 + sig);
  }
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

void withdrawing_tasks(bool on) { g_withdrawing = on; }

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
