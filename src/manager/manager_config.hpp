// The manager's settings: its address and keys, timeouts, and the limits
// that bound its memory. Read by the socket loop (manager.cpp) and the core.
#pragma once

#include <chrono>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "common/keys.hpp"

namespace uni::manager {

struct ManagerConfig {
  std::string listen = "tcp://127.0.0.1:7070";
  CurveKeys keys;
  // Without a clients file: the shared authkey's client key, and these, are
  // admitted, all as the one identity `authkey` (an admin).
  std::set<std::string> extra_client_keys;  // admitted besides keys.client_public
  // --clients: the keys admitted, each its own identity and role
  // (common/key_files.hpp); the shared client key is then not admitted.
  // Read again on SIGHUP (Manager::request_reload).
  std::string clients_file;
  std::chrono::milliseconds heartbeat{1000};
  // A worker silent this long is dead and its tasks are requeued.
  std::chrono::milliseconds heartbeat_timeout{3000};
  // A boss gone this long loses its queued tasks and waiting results.
  std::chrono::milliseconds boss_grace{60000};
  // A boss whose tasks wait this long for a worker of their platform is told.
  std::chrono::milliseconds notice_after{2000};
  std::uint64_t max_message = 128ull << 20;
  std::uint64_t max_module = 100ull << 20;
  std::uint64_t module_store_bytes = 1ull << 30;
  // Tasks the manager holds at most (queued, running, and results not yet
  // acknowledged). Past it, submissions are answered "queue full" and the boss
  // submits them again later: memory stays bounded, nothing is lost.
  std::uint64_t max_tasks = 2'000'000;
  // Bytes the held tasks may take in all: their arguments and results and a
  // fixed cost per task (TaskTable::bytes). Past it, as past max_tasks,
  // submissions are answered "queue full".
  std::uint64_t max_queued_bytes = 1ull << 30;
  // Connections completing their CURVE handshake at once at most; beyond,
  // the oldest of them are closed (the handshake guard of the manager's
  // socket, src/broker/zmq/handshake_guard.hpp).
  std::size_t max_pending_handshakes = 512;
  // After a start, resubmitted tasks wait this long for workers to re-announce
  // what they still run, so that a restart never starts a task twice.
  std::chrono::milliseconds recovery_window{2000};
  // Results of tasks submitted to be kept (`uni submit`; kept_results.hpp):
  // for this long after the task ends, and at most this many and this many
  // bytes, the oldest evicted first. In memory: lost when the manager stops.
  std::chrono::milliseconds keep_results_for{std::chrono::hours(24)};
  std::uint64_t max_kept_results = 100'000;
  std::uint64_t max_kept_result_bytes = 256ull << 20;
  // HOST:PORT of the read-only HTTP server (dashboard, /metrics, /api/status);
  // empty: none (http_server.hpp). Beyond loopback it needs `http_token`.
  std::string http;
  std::string http_token;               // the bearer token its requests must carry
  std::vector<std::string> http_hosts;  // Host names it answers for besides IPs and localhost
  bool http_redact = false;             // no task error texts in /api/status
};

}  // namespace uni::manager
