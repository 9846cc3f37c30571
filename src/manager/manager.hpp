// The manager: the rendezvous of a cluster. It owns the task
// queue, routes each result to the boss that submitted the task, stores
// modules by hash, keeps the registry of workers, and watches everyone's
// heartbeats. One thread, one ROUTER socket, one poll loop; with --http, an
// HTTP server on threads of its own that reads only published snapshots.
// This face names no transport: its socket and loop live with the transport
// they serve, over the socket-free core of manager_core.hpp
// (docs/architecture.md §12, "The manager and its transport").
#pragma once

#include <memory>
#include <string>

#include "manager/manager_config.hpp"

namespace uni::manager {

class Manager {
 public:
  // Binds the socket; throws std::runtime_error if it cannot.
  explicit Manager(ManagerConfig config);
  ~Manager();
  Manager(const Manager&) = delete;
  Manager& operator=(const Manager&) = delete;

  // The bound endpoint, with the port filled in ("tcp://127.0.0.1:41237").
  const std::string& endpoint() const;
  // The dashboard's URL ("http://127.0.0.1:8080"), empty without --http.
  const std::string& http_url() const;

  // Serves until request_stop(); then tells connected peers and returns.
  void run();

  // Safe from a signal handler and from any thread.
  void request_stop();
  // Reads the clients file again (ManagerConfig::clients_file), at the next
  // turn of the loop; an unreadable file keeps the keys admitted so far.
  // Safe from a signal handler and from any thread.
  void request_reload();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace uni::manager
