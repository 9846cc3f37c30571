// The hostile test peer (see attacker_peer.hpp).
#include "attacker_peer.hpp"

#include <stdlib.h>

#include <thread>

#include "broker/zmq/transport.hpp"
#include "common/key_files.hpp"
#include "uni/detail/platform.hpp"

namespace uni::test {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

AttackerPeer::AttackerPeer(const TestCluster& cluster, const CurveKeys& keys,
                           const std::optional<std::string>& routing_id)
    : socket_(proto::make_dealer(context_, keys)) {
  if (routing_id) socket_.set(zmq::sockopt::routing_id, zmq::buffer(*routing_id));
  socket_.connect(cluster.address());
}

CurveKeys AttackerPeer::authkey_keys(const TestCluster& cluster) {
  ::setenv("UNI_CONFIG_DIR", cluster.config_dir().c_str(), 1);  // the derived-key cache
  return derive_curve_keys(cluster.authkey());
}

CurveKeys AttackerPeer::key_file_keys(const TestCluster& cluster, const std::string& name) {
  return curve_keys_of(read_client_key(cluster.key_file(name).string()));
}

bool AttackerPeer::send(const std::string& bytes) {
  // ZMQ_IMMEDIATE: a send before the handshake finished fails; retry.
  auto deadline = Clock::now() + 10s;
  while (Clock::now() < deadline) {
    if (socket_.send(zmq::buffer(bytes), zmq::send_flags::dontwait)) return true;
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

std::optional<proto::Message> AttackerPeer::receive(std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return std::nullopt;
    zmq::pollitem_t item{socket_.handle(), 0, ZMQ_POLLIN, 0};
    zmq::poll(&item, 1, left);
    zmq::message_t frame;
    if (!socket_.recv(frame, zmq::recv_flags::dontwait)) continue;
    proto::Message m = proto::Message::parse(static_cast<const char*>(frame.data()), frame.size());
    if (m.type() == proto::Type::kHeartbeat || m.type() == proto::Type::kNotice) continue;
    return m;
  }
}

std::optional<proto::Message> AttackerPeer::expect(proto::Type type,
                                                   std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    std::optional<proto::Message> m = receive(std::max(left, 0ms));
    if (!m) return std::nullopt;
    if (m->type() == type) return m;
  }
}

std::string worker_hello(const std::string& id, std::uint32_t capacity,
                         const std::vector<proto::RunningTask>& running,
                         const std::string& secret) {
  proto::Hello h;
  h.role = "worker";
  h.worker_id = id;
  h.host = "attacker";
  h.pid = 1;
  h.slots = 1;
  h.capacity = capacity;
  h.platform = UNI_PLATFORM_TAG;
  h.isolation = "process";
  h.running = running;
  h.secret = secret;
  return proto::encode_hello(h);
}

std::uint64_t session_of_key(const TestCluster& cluster, const std::string& name) {
  ClientKey key = read_client_key(cluster.key_file(name).string());
  return (static_cast<std::uint64_t>(owner_tag(key.public_key)) << 32) | 1;
}

std::string boss_hello(std::uint64_t session, const std::string& secret) {
  proto::Hello h;
  h.role = "boss";
  h.session = session;
  h.secret = secret;
  return proto::encode_hello(h);
}

std::string forged_result(const proto::TaskId& id, const std::string& msgpack_value) {
  proto::Result r;
  r.id = id;
  r.status = proto::Status::kOk;
  r.payload = msgpack_value;
  return proto::encode_results({&r});
}

std::string msgpack_uint(std::uint64_t v) {
  msgpack::sbuffer b;
  msgpack::pack(b, v);
  return std::string(b.data(), b.size());
}

}  // namespace uni::test
