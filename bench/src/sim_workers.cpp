// Simulated workers (see sim_workers.hpp).
#include "sim_workers.hpp"

#include <unistd.h>

#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>
#include <zmq.hpp>

#include "broker/zmq/transport.hpp"
#include "proto/messages.hpp"
#include "uni/detail/platform.hpp"
#include "util.hpp"

namespace bench {

namespace {

struct Sim {
  std::string id;
  zmq::socket_t socket;
  bool welcomed = false;
};

std::string hello_for(const std::string& id, std::uint32_t capacity) {
  uni::proto::Hello h;
  h.role = "worker";
  h.worker_id = id;
  h.host = "uni-bench-sim";
  h.pid = static_cast<std::uint32_t>(::getpid());
  h.slots = 1;
  h.capacity = capacity;
  h.platform = UNI_PLATFORM_TAG;
  h.isolation = "simulated";
  return uni::proto::encode_hello(h);
}

bool send(zmq::socket_t& s, const std::string& body) {
  try {
    zmq::message_t frame(body.data(), body.size());
    return s.send(frame, zmq::send_flags::dontwait).has_value();
  } catch (const zmq::error_t&) {
    return false;
  }
}

}  // namespace

struct SimulatedWorkers::Impl {
  zmq::context_t context{1};
  std::vector<Sim> sims;
  std::uint32_t capacity = 2;
  std::thread thread;
  std::atomic<bool> stop{false};
  std::atomic<std::size_t> welcomed{0};
  std::string error;
  mutable std::mutex mutex;
  SimStats stats;

  void on_message(Sim& sim, const uni::proto::Message& m) {
    using uni::proto::Type;
    switch (m.type()) {
      case Type::kWelcome:
        if (!sim.welcomed) {
          sim.welcomed = true;
          ++welcomed;
        }
        return;
      case Type::kTasks: {
        std::vector<uni::proto::Task> tasks = m.tasks();
        std::vector<uni::proto::Result> results(tasks.size());
        std::vector<const uni::proto::Result*> batch;
        std::uint64_t bad = 0;
        for (std::size_t i = 0; i < tasks.size(); ++i) {
          uni::proto::Result& r = results[i];
          r.id = tasks[i].id;
          r.attempt = tasks[i].attempt;
          r.pid = static_cast<std::uint32_t>(::getpid());
          // ident(x) = x: the args are the msgpack array [x]; the result is x.
          try {
            msgpack::object_handle h = msgpack::unpack(tasks[i].args.data(), tasks[i].args.size());
            const msgpack::object& args = h.get();
            if (args.type != msgpack::type::ARRAY || args.via.array.size != 1)
              throw std::bad_cast();
            msgpack::sbuffer out;
            msgpack::pack(out, args.via.array.ptr[0]);
            r.status = uni::proto::Status::kOk;
            r.payload.assign(out.data(), out.size());
          } catch (const std::exception&) {
            ++bad;
            r.status = uni::proto::Status::kBadArguments;
            r.payload = "the simulated worker runs ident(x) only";
          }
          batch.push_back(&r);
        }
        send(sim.socket, uni::proto::encode_results(batch));
        std::lock_guard lock(mutex);
        stats.tasks += tasks.size();
        stats.bad_args += bad;
        ++stats.tasks_messages;
        ++stats.result_messages;
        return;
      }
      case Type::kError:
        if (m.error().code == "hello-required") send(sim.socket, hello_for(sim.id, capacity));
        return;
      default: return;  // ACK, HEARTBEAT, CANCEL (nothing runs long), BYE
    }
  }

  void loop() {
    std::vector<zmq::pollitem_t> items;
    for (Sim& s : sims) items.push_back({s.socket.handle(), 0, ZMQ_POLLIN, 0});
    Clock::time_point next_heartbeat = Clock::now() + std::chrono::milliseconds(500);
    const std::string beat = uni::proto::encode_heartbeat();
    while (!stop) {
      try {
        uni::proto::poll(items.data(), items.size(), std::chrono::milliseconds(100));
        for (std::size_t i = 0; i < sims.size(); ++i) {
          if (!(items[i].revents & ZMQ_POLLIN)) continue;
          for (int k = 0; k < 256; ++k) {
            zmq::message_t frame;
            if (!sims[i].socket.recv(frame, zmq::recv_flags::dontwait)) break;
            try {
              on_message(sims[i], uni::proto::Message::parse(static_cast<const char*>(frame.data()),
                                                             frame.size()));
            } catch (const uni::proto::DecodeError& e) {
              note("simulated worker %s: malformed message: %s", sims[i].id.c_str(), e.what());
            }
          }
        }
        // The manager declares a worker dead after 3 s without a word.
        if (Clock::now() >= next_heartbeat) {
          for (Sim& s : sims) send(s.socket, beat);
          next_heartbeat = Clock::now() + std::chrono::milliseconds(500);
        }
      } catch (const std::exception& e) {
        error = e.what();
        return;
      }
    }
  }
};

SimulatedWorkers::SimulatedWorkers(const uni::CurveKeys& keys, const std::string& endpoint,
                                   std::size_t count, std::uint32_t capacity,
                                   std::chrono::milliseconds timeout)
    : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  m.capacity = capacity;
  m.context.set(zmq::ctxopt::max_sockets, static_cast<int>(count + 64));
  m.sims.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    char id[32];
    std::snprintf(id, sizeof(id), "sim%05zu", i);
    Sim s{id, uni::proto::make_dealer(m.context, keys)};
    // Queue the HELLO until the connection is up (make_dealer sets immediate
    // for real peers, which watch the handshake instead).
    s.socket.set(zmq::sockopt::immediate, 0);
    s.socket.connect(uni::proto::normalize_endpoint(endpoint));
    if (!send(s.socket, hello_for(s.id, capacity)))
      throw std::runtime_error("simulated worker: HELLO not queued");
    m.sims.push_back(std::move(s));
  }
  m.thread = std::thread([&m] { m.loop(); });
  Clock::time_point start = Clock::now();
  while (m.welcomed < count) {
    if (!m.error.empty() || Clock::now() - start > timeout) {
      std::string why = m.error.empty() ? "timed out" : m.error;
      std::size_t got = m.welcomed;
      m.stop = true;
      m.thread.join();
      throw std::runtime_error("simulated workers: " + std::to_string(got) + " of " +
                               std::to_string(count) + " welcomed (" + why + ")");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

SimulatedWorkers::~SimulatedWorkers() {
  Impl& m = *impl_;
  m.stop = true;
  if (m.thread.joinable()) m.thread.join();
  const std::string bye = uni::proto::encode_bye("simulated worker stopping");
  for (Sim& s : m.sims) {
    send(s.socket, bye);
    s.socket.set(zmq::sockopt::linger, 100);
  }
}

SimStats SimulatedWorkers::stats() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->stats;
}

}  // namespace bench
