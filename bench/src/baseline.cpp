// Raw ZeroMQ CURVE 3-hop and socketpair round trips (see baseline.hpp).
#include "baseline.hpp"

#include <sys/socket.h>
#include <unistd.h>
#include <zmq.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "common/process.hpp"
#include "util.hpp"

namespace bench {

namespace {

constexpr int kHighWaterMark = 100000;  // as uni's sockets (src/broker/zmq/transport.cpp)

struct Keypair {
  char pub[41], sec[41];  // Z85
};

Keypair keypair() {
  Keypair k{};
  if (zmq_curve_keypair(k.pub, k.sec) != 0)
    throw std::runtime_error("zmq_curve_keypair failed (no CURVE?)");
  return k;
}

void check(int rc, const char* what) {
  if (rc != 0) throw std::runtime_error(std::string(what) + ": " + zmq_strerror(zmq_errno()));
}

void set_int(void* s, int option, int value) {
  check(zmq_setsockopt(s, option, &value, sizeof(value)), "setsockopt");
}

void* curve_server(void* ctx, int type, const Keypair& server) {
  void* s = zmq_socket(ctx, type);
  if (!s) throw std::runtime_error("zmq_socket failed");
  set_int(s, ZMQ_CURVE_SERVER, 1);
  check(zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, server.sec, 40), "curve secret key");
  set_int(s, ZMQ_SNDHWM, kHighWaterMark);
  set_int(s, ZMQ_RCVHWM, kHighWaterMark);
  set_int(s, ZMQ_LINGER, 0);
  return s;
}

void* curve_client(void* ctx, int type, const Keypair& server, const Keypair& me, const char* rid) {
  void* s = zmq_socket(ctx, type);
  if (!s) throw std::runtime_error("zmq_socket failed");
  check(zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, server.pub, 40), "curve server key");
  check(zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, me.pub, 40), "curve public key");
  check(zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, me.sec, 40), "curve secret key");
  check(zmq_setsockopt(s, ZMQ_ROUTING_ID, rid, std::strlen(rid)), "routing id");
  set_int(s, ZMQ_SNDHWM, kHighWaterMark);
  set_int(s, ZMQ_RCVHWM, kHighWaterMark);
  set_int(s, ZMQ_LINGER, 0);
  return s;
}

std::string endpoint_of(void* s) {
  char buf[256];
  size_t len = sizeof(buf);
  check(zmq_getsockopt(s, ZMQ_LAST_ENDPOINT, buf, &len), "last endpoint");
  return std::string(buf);
}

// Receives one multipart message; false on ETERM/EAGAIN.
bool recv_parts(void* s, std::vector<zmq_msg_t>& parts, int flags) {
  for (auto& p : parts) zmq_msg_close(&p);
  parts.clear();
  for (;;) {
    parts.emplace_back();
    zmq_msg_init(&parts.back());
    if (zmq_msg_recv(&parts.back(), s, parts.size() == 1 ? flags : 0) < 0) {
      zmq_msg_close(&parts.back());
      parts.pop_back();
      return false;
    }
    if (!zmq_msg_more(&parts.back())) return true;
  }
}

}  // namespace

struct Baseline::Impl {
  Keypair front_key = keypair(), back_key = keypair(), client_key = keypair(),
          worker_key = keypair();
  void* client_ctx = zmq_ctx_new();
  void* broker_ctx = zmq_ctx_new();
  void* worker_ctx = zmq_ctx_new();
  void* client = nullptr;
  std::string front_endpoint, back_endpoint;
  std::thread broker, worker;
  std::atomic<bool> broker_ready{false}, worker_ready{false};
  std::string broker_error, worker_error;  // set before the ready flag, read after it

  // Front: [client rid, body] -> back: ["W", body]; back: ["W", body] -> front: [client rid, body].
  // One client, so the broker remembers its routing id and every hop is one frame on the wire.
  void broker_loop() {
    void* front = nullptr;
    void* back = nullptr;
    try {
      front = curve_server(broker_ctx, ZMQ_ROUTER, front_key);
      back = curve_server(broker_ctx, ZMQ_ROUTER, back_key);
      set_int(back, ZMQ_ROUTER_MANDATORY, 1);
      check(zmq_bind(front, "tcp://127.0.0.1:*"), "bind front");
      check(zmq_bind(back, "tcp://127.0.0.1:*"), "bind back");
      front_endpoint = endpoint_of(front);
      back_endpoint = endpoint_of(back);
    } catch (const std::exception& e) {
      broker_error = e.what();
    }
    broker_ready = true;
    std::string client_rid;
    std::vector<zmq_msg_t> parts;
    while (broker_error.empty()) {
      zmq_pollitem_t items[] = {{front, 0, ZMQ_POLLIN, 0}, {back, 0, ZMQ_POLLIN, 0}};
      if (zmq_poll(items, 2, -1) < 0) {
        if (zmq_errno() == EINTR) continue;
        break;  // ETERM: shut down
      }
      if (items[0].revents & ZMQ_POLLIN) {
        while (recv_parts(front, parts, ZMQ_DONTWAIT)) {
          if (parts.size() != 2) continue;
          client_rid.assign(static_cast<char*>(zmq_msg_data(&parts[0])), zmq_msg_size(&parts[0]));
          // EHOSTUNREACH before the worker is connected: dropped, the client retries.
          if (zmq_send(back, "W", 1, ZMQ_SNDMORE | ZMQ_DONTWAIT) == 1)
            zmq_msg_send(&parts[1], back, ZMQ_DONTWAIT);
        }
      }
      if (items[1].revents & ZMQ_POLLIN) {
        while (recv_parts(back, parts, ZMQ_DONTWAIT)) {
          if (parts.size() != 2 || client_rid.empty()) continue;
          if (zmq_send(front, client_rid.data(), client_rid.size(), ZMQ_SNDMORE | ZMQ_DONTWAIT) ==
              static_cast<int>(client_rid.size()))
            zmq_msg_send(&parts[1], front, ZMQ_DONTWAIT);
        }
      }
    }
    for (auto& p : parts) zmq_msg_close(&p);
    if (front) zmq_close(front);
    if (back) zmq_close(back);
  }

  void worker_loop() {
    void* s = nullptr;
    try {
      s = curve_client(worker_ctx, ZMQ_DEALER, back_key, worker_key, "W");
      check(zmq_connect(s, back_endpoint.c_str()), "connect worker");
    } catch (const std::exception& e) {
      worker_error = e.what();
    }
    worker_ready = true;
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    while (worker_error.empty()) {
      if (zmq_msg_recv(&msg, s, 0) < 0) {
        if (zmq_errno() == EINTR) continue;
        break;
      }
      zmq_msg_send(&msg, s, 0);  // the "work": send the message back
    }
    zmq_msg_close(&msg);
    if (s) zmq_close(s);
  }

  void close() {
    if (client) zmq_close(client);
    client = nullptr;
    zmq_ctx_shutdown(broker_ctx);
    zmq_ctx_shutdown(worker_ctx);
    if (broker.joinable()) broker.join();
    if (worker.joinable()) worker.join();
    zmq_ctx_term(client_ctx);
    zmq_ctx_term(broker_ctx);
    zmq_ctx_term(worker_ctx);
  }

  void send(const char* data, std::size_t size) {
    if (zmq_send(client, data, size, 0) != static_cast<int>(size))
      throw std::runtime_error("baseline send failed");
  }
};

Baseline::Baseline() : impl_(new Impl) {
  Impl& m = *impl_;
  try {
    m.broker = std::thread([&m] { m.broker_loop(); });
    while (!m.broker_ready) std::this_thread::yield();
    if (!m.broker_error.empty()) throw std::runtime_error("baseline broker: " + m.broker_error);
    m.worker = std::thread([&m] { m.worker_loop(); });
    while (!m.worker_ready) std::this_thread::yield();
    if (!m.worker_error.empty()) throw std::runtime_error("baseline worker: " + m.worker_error);
    m.client = curve_client(m.client_ctx, ZMQ_DEALER, m.front_key, m.client_key, "C");
    check(zmq_connect(m.client, m.front_endpoint.c_str()), "connect client");
    // Until a ping comes back, both handshakes are done and the worker is known.
    set_int(m.client, ZMQ_RCVTIMEO, 100);
    char buf[kMessageBytes] = "ping";
    Clock::time_point start = Clock::now();
    for (;;) {
      m.send(buf, sizeof(buf));
      if (zmq_recv(m.client, buf, sizeof(buf), 0) >= 0) break;
      if (seconds_since(start) > 10)
        throw std::runtime_error("baseline: no round trip within 10 s");
    }
    // Drain late echoes of earlier pings.
    while (zmq_recv(m.client, buf, sizeof(buf), 0) >= 0) {
    }
    set_int(m.client, ZMQ_RCVTIMEO, 10000);
  } catch (...) {
    m.close();
    delete impl_;
    throw;
  }
}

Baseline::~Baseline() {
  impl_->close();
  delete impl_;
}

BaselineRate Baseline::rate(std::size_t messages, std::size_t window) {
  Impl& m = *impl_;
  char out[kMessageBytes] = {};
  char in[kMessageBytes];
  std::size_t sent = 0, received = 0;
  Clock::time_point start = Clock::now();
  while (received < messages) {
    while (sent < messages && sent - received < window) {
      std::memcpy(out, &sent, sizeof(sent));
      if (zmq_send(m.client, out, sizeof(out), ZMQ_DONTWAIT) != static_cast<int>(sizeof(out)))
        break;
      ++sent;
    }
    // Block for one reply, then take whatever else is there.
    if (zmq_recv(m.client, in, sizeof(in), 0) < 0)
      throw std::runtime_error("baseline: reply timed out");
    ++received;
    while (received < sent && zmq_recv(m.client, in, sizeof(in), ZMQ_DONTWAIT) >= 0) ++received;
  }
  BaselineRate r;
  r.per_s = static_cast<double>(messages) / seconds_since(start);
  r.messages = messages;
  r.window = window;
  return r;
}

BaselineLatency Baseline::latency(std::size_t round_trips, std::size_t warmup, std::size_t bytes) {
  Impl& m = *impl_;
  std::vector<char> buf(std::max<std::size_t>(bytes, 8), 'x');
  std::vector<double> us;
  us.reserve(round_trips);
  for (std::size_t i = 0; i < warmup + round_trips; ++i) {
    Clock::time_point t0 = Clock::now();
    m.send(buf.data(), buf.size());
    if (zmq_recv(m.client, buf.data(), buf.size(), 0) < 0)
      throw std::runtime_error("baseline: reply timed out");
    if (i >= warmup) us.push_back(us_between(t0, Clock::now()));
  }
  BaselineLatency r;
  r.p50_us = quantile(us, 0.5);
  r.p99_us = quantile(us, 0.99);
  double sum = 0;
  for (double v : us) sum += v;
  r.mean_us = us.empty() ? 0 : sum / static_cast<double>(us.size());
  r.round_trips = round_trips;
  return r;
}

BaselineLatency socketpair_latency(std::size_t round_trips, std::size_t warmup) {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
    throw std::runtime_error(std::string("socketpair: ") + std::strerror(errno));
  uni::UniqueFd mine(sv[0]), theirs(sv[1]);
  uni::SpawnOptions options;
  options.argv = {"/bin/cat"};
  options.fds = {{theirs.get(), 0}, {theirs.get(), 1}};
  uni::Process cat = uni::Process::spawn(options);  // killed and reaped when it goes
  theirs.reset();
  char buf[Baseline::kMessageBytes] = {};
  std::vector<double> us;
  us.reserve(round_trips);
  for (std::size_t i = 0; i < warmup + round_trips; ++i) {
    Clock::time_point t0 = Clock::now();
    if (::write(mine.get(), buf, sizeof(buf)) != static_cast<ssize_t>(sizeof(buf)))
      throw std::runtime_error("socketpair write failed");
    std::size_t got = 0;
    while (got < sizeof(buf)) {
      ssize_t n = ::read(mine.get(), buf + got, sizeof(buf) - got);
      if (n <= 0) {
        if (n < 0 && errno == EINTR) continue;
        throw std::runtime_error("socketpair read failed");
      }
      got += static_cast<std::size_t>(n);
    }
    if (i >= warmup) us.push_back(us_between(t0, Clock::now()));
  }
  BaselineLatency r;
  r.p50_us = quantile(us, 0.5);
  r.p99_us = quantile(us, 0.99);
  double sum = 0;
  for (double v : us) sum += v;
  r.mean_us = us.empty() ? 0 : sum / static_cast<double>(us.size());
  r.round_trips = round_trips;
  return r;
}

}  // namespace bench
