// The manager's read-only HTTP face (issue 10), off unless `--http` is given:
// `/metrics` (Prometheus text), `/api/status` (the JSON of `uni status
// --json`), `/api/history` (tasks/s per second) and `/` (the dashboard,
// whose files are compiled into the binary). It serves from threads of its
// own, from the snapshots the loop publishes on a SnapshotBoard: it never
// submits, cancels or uploads, and never touches the manager's state.
#pragma once

#include <memory>
#include <string>

#include "manager/snapshot_board.hpp"

namespace uni::manager {

class HttpServer {
 public:
  // Binds `address` ("HOST:PORT", "[V6]:PORT" or "PORT" for 127.0.0.1;
  // port 0: any free port) and starts serving. Throws std::runtime_error
  // if the address is malformed or cannot be bound.
  HttpServer(const std::string& address, SnapshotBoard& board);
  // Stops serving and joins its threads.
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // "http://127.0.0.1:41237", with the bound port.
  const std::string& url() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace uni::manager
