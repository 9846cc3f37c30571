// SIGINT/SIGTERM -> a stop request, SIGHUP -> a reload. A signal handler can
// only reach global state, so this is the one place that keeps some: the
// targets to notify.
#pragma once

namespace uni::cli {

// Calls stop(arg) from the handler on the first SIGINT or SIGTERM; the
// callback must be async-signal-safe (Manager/Supervisor::request_stop are).
// With a null callback the signal is only recorded (received_stop_signal()).
// A second signal exits at once (128 + the signal), except while tasks are
// being withdrawn (withdrawing_tasks()): then it says so and waits for them,
// and only a third leaves at once.
void on_stop_signal(void (*stop)(void*), void* arg);

// The command that called on_stop_signal withdraws its tasks from the cluster
// on a stop signal (uni run, map, spawn): true from when it has tasks out
// until they are withdrawn.
void withdrawing_tasks(bool on);

// The signal that arrived, or 0.
int received_stop_signal();

// Calls reload(arg) from the handler on each SIGHUP; the callback must be
// async-signal-safe (Manager::request_reload is).
void on_reload_signal(void (*reload)(void*), void* arg);

}  // namespace uni::cli
