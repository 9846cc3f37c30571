// The tests' raw protocol peer (see raw_peer.hpp).
#include "raw_peer.hpp"

#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <thread>

#include "broker/zmq/transport.hpp"
#include "common/key_files.hpp"
#include "proto/chunks.hpp"

namespace uni::test {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

RawPeer::RawPeer(const TestCluster& cluster, const CurveKeys& keys,
                 const std::optional<std::string>& routing_id)
    : socket_(proto::make_dealer(context_, keys)) {
  if (routing_id) socket_.set(zmq::sockopt::routing_id, zmq::buffer(*routing_id));
  static std::atomic<int> counter{0};
  const std::string endpoint = "inproc://raw-peer-monitor-" + std::to_string(counter++);
  if (zmq_socket_monitor(socket_.handle(), endpoint.c_str(), ZMQ_EVENT_DISCONNECTED) != 0)
    throw zmq::error_t();
  monitor_ = zmq::socket_t(context_, zmq::socket_type::pair);
  monitor_.connect(endpoint);
  socket_.connect(cluster.address());
}

RawPeer::RawPeer(const TestCluster& cluster, const std::string& routing_id)
    : RawPeer(cluster, authkey_keys(cluster), routing_id) {}

CurveKeys RawPeer::authkey_keys(const TestCluster& cluster) {
  ::setenv("UNI_CONFIG_DIR", cluster.config_dir().c_str(), 1);  // the derived-key cache
  return derive_curve_keys(cluster.authkey());
}

CurveKeys RawPeer::key_file_keys(const TestCluster& cluster, const std::string& name) {
  return curve_keys_of(read_client_key(cluster.key_file(name).string()));
}

bool RawPeer::send(std::string_view message) {
  return proto::send_in_frames(message, [&](std::string_view frame) { return send_frame(frame); });
}

bool RawPeer::send_frame(std::string_view frame) {
  // ZMQ_IMMEDIATE: a send before the handshake finished fails; retry.
  const auto deadline = Clock::now() + 10s;
  while (Clock::now() < deadline) {
    if (socket_.send(zmq::buffer(frame.data(), frame.size()), zmq::send_flags::dontwait))
      return true;
    std::this_thread::sleep_for(5ms);
  }
  return false;
}

std::optional<proto::Message> RawPeer::receive(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return std::nullopt;
    zmq::pollitem_t item{socket_.handle(), 0, ZMQ_POLLIN, 0};
    zmq::poll(&item, 1, left);
    zmq::message_t frame;
    if (!socket_.recv(frame, zmq::recv_flags::dontwait)) continue;
    // Parsed with the default limits: its fields are copied out of the frame.
    proto::Message m = proto::Message::parse(static_cast<const char*>(frame.data()), frame.size());
    if (m.type() == proto::Type::kHeartbeat || m.type() == proto::Type::kNotice) continue;
    return m;
  }
}

std::optional<proto::Message> RawPeer::expect(proto::Type type, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    std::optional<proto::Message> m = receive(std::max(left, 0ms));
    if (!m) return std::nullopt;
    if (m->type() == type) return m;
  }
}

bool RawPeer::disconnected_within(std::chrono::milliseconds timeout) {
  zmq::pollitem_t item{monitor_.handle(), 0, ZMQ_POLLIN, 0};
  zmq::poll(&item, 1, timeout);
  zmq::message_t event;
  return monitor_.recv(event, zmq::recv_flags::dontwait).has_value();
}

bool RawPeer::hello_as_boss(std::uint64_t session) {
  proto::Hello h;
  h.role = "boss";
  h.session = session;
  if (!send(proto::encode_hello(h))) return false;
  std::optional<proto::Message> welcome = receive(10s);
  return welcome && welcome->type() == proto::Type::kWelcome;
}

}  // namespace uni::test
