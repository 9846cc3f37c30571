// The manager's read-only HTTP face, off unless `--http` is given:
// `/metrics` (Prometheus text), `/api/status` (the JSON of `uni status
// --json`), `/api/history` (tasks/s per second) and `/` (the dashboard,
// whose files are compiled into the binary). It serves from a thread of its
// own, from the snapshots the loop publishes on a SnapshotBoard: it never
// submits, cancels or uploads, and never touches the manager's state.
//
// Nothing a client sends can make it hold much or for long
// (docs/security.md §8): GET and HEAD only, no request bodies, a request head
// of at most 8 KiB that must arrive within 5 s, at most 64 connections (a
// new one displaces the one that has waited longest for its request), one
// thread that never waits on a client. The Host header must name this
// server (an IP address, localhost, or a name given with --http-host), so
// that a web page cannot read it through DNS rebinding; beyond loopback a
// bearer token is required.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "manager/snapshot_board.hpp"

namespace uni::manager {

struct HttpOptions {
  // "HOST:PORT", "[V6]:PORT" or "PORT" for 127.0.0.1; port 0: any free port.
  std::string address;
  // The bearer token every request must carry (Authorization: Bearer, or the
  // dashboard's cookie); empty: none. Required unless HOST is loopback.
  std::string token;
  // Names the Host header may carry besides IP addresses and localhost.
  std::vector<std::string> hosts;
  // /api/status and the dashboard show no task error texts (they may quote
  // arguments).
  bool redact = false;
  // Decides whether a request's bearer token admits it. Empty: the token
  // must equal `token`. (Where per-client roles exist, their observers can
  // be admitted here.)
  std::function<bool(std::string_view token)> authorize;
};

class HttpServer {
 public:
  // Binds and starts serving. Throws std::runtime_error if the address is
  // malformed or cannot be bound, or if it is not loopback and no token (or
  // authorize) is given.
  HttpServer(HttpOptions options, SnapshotBoard& board);
  // Stops serving, closes every connection and joins its thread.
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // "http://127.0.0.1:41237", with the bound port.
  const std::string& url() const;

  static constexpr std::size_t kMaxConnections = 64;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace uni::manager
