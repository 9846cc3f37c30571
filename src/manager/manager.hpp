// The manager (design §1-2, 5): the rendezvous of a cluster. It owns the task
// queue, routes each result to the boss that submitted the task, stores
// modules by hash, keeps the registry of workers, and watches everyone's
// heartbeats. One thread, one ROUTER socket, one poll loop.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <set>
#include <string>

#include "common/keys.hpp"

namespace uni::manager {

struct ManagerConfig {
  std::string listen = "tcp://127.0.0.1:7070";
  CurveKeys keys;
  std::set<std::string> extra_client_keys;  // admitted besides keys.client_public
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
  // After a start, resubmitted tasks wait this long for workers to re-announce
  // what they still run, so that a restart never starts a task twice.
  std::chrono::milliseconds recovery_window{2000};
};

class Manager {
 public:
  // Binds the socket; throws std::runtime_error if it cannot.
  explicit Manager(ManagerConfig config);
  ~Manager();
  Manager(const Manager&) = delete;
  Manager& operator=(const Manager&) = delete;

  // The bound endpoint, with the port filled in ("tcp://127.0.0.1:41237").
  const std::string& endpoint() const;

  // Serves until request_stop(); then tells connected peers and returns.
  void run();

  // Safe from a signal handler and from any thread.
  void request_stop();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace uni::manager
