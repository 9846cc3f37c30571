// The manager's defensive decoding, seen from a raw ZeroMQ peer built from
// the project's own protocol pieces: a HELLO of another protocol version is
// answered with ERROR "version", random bytes with ERROR "malformed", and the
// manager goes on serving.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <random>

#include "common/keys.hpp"
#include "proto/messages.hpp"
#include "proto/transport.hpp"
#include "test_cluster.hpp"

namespace uni::test {
namespace {

using namespace std::chrono_literals;

// A DEALER with the cluster's client keys, connected to its manager.
class RawPeer {
 public:
  RawPeer(TestCluster& cluster, const std::string& routing_id) {
    ::setenv("UNI_CONFIG_DIR", cluster.config_dir().c_str(), 1);
    socket_ = proto::make_dealer(context_, derive_curve_keys(cluster.authkey()), routing_id);
    socket_.connect(cluster.address());
  }

  bool send(const std::string& bytes) {
    // ZMQ_IMMEDIATE: a send before the handshake finished fails; retry.
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < deadline) {
      if (socket_.send(zmq::buffer(bytes), zmq::send_flags::dontwait)) return true;
      std::this_thread::sleep_for(20ms);
    }
    return false;
  }

  // The next message that is not a HEARTBEAT or NOTICE; nullopt on timeout.
  std::optional<proto::Message> receive(std::chrono::milliseconds timeout = 10s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return std::nullopt;
      zmq::pollitem_t item{socket_.handle(), 0, ZMQ_POLLIN, 0};
      zmq::poll(&item, 1, left);
      zmq::message_t frame;
      if (!socket_.recv(frame, zmq::recv_flags::dontwait)) continue;
      proto::Message m =
          proto::Message::parse(static_cast<const char*>(frame.data()), frame.size());
      if (m.type() == proto::Type::kHeartbeat || m.type() == proto::Type::kNotice) continue;
      return m;
    }
  }

 private:
  zmq::context_t context_;
  zmq::socket_t socket_;
};

// A boss HELLO as encode_hello writes it, but claiming protocol `version`.
std::string hello_with_version(std::uint32_t version) {
  msgpack::sbuffer buffer;
  msgpack::packer<msgpack::sbuffer> p(buffer);
  p.pack_array(4);
  p.pack_uint8(static_cast<std::uint8_t>(proto::Type::kHello));
  p.pack_uint32(version);
  p.pack(std::string("boss"));
  p.pack_map(1);
  p.pack(std::string("session"));
  p.pack_uint64(0x7e57);
  return std::string(buffer.data(), buffer.size());
}

void expect_error(const std::optional<proto::Message>& reply, const std::string& code,
                  const std::string& text_part) {
  ASSERT_TRUE(reply) << "no answer from the manager";
  ASSERT_EQ(reply->type(), proto::Type::kError) << proto::type_name(reply->type());
  proto::ErrorMessage e = reply->error();
  EXPECT_EQ(e.code, code) << e.text;
  EXPECT_NE(e.text.find(text_part), std::string::npos) << e.text;
}

void expect_still_serving(TestCluster& cluster) {
  CommandResult r = cluster.uni({"run", module_path("testfns"), "add", "20", "22"});
  EXPECT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_EQ(r.out, "42\n") << r.describe();
}

TEST(Protocol, HelloOfAnotherVersionGetsAVersionError) {
  TestCluster cluster;
  RawPeer peer(cluster, "raw-version-peer");
  ASSERT_TRUE(peer.send(hello_with_version(proto::kVersion + 1)));
  std::optional<proto::Message> reply = peer.receive();
  expect_error(reply, "version", "version " + std::to_string(proto::kVersion + 1));
  ASSERT_TRUE(reply);
  EXPECT_NE(reply->error().text.find("version mismatch"), std::string::npos);
  expect_still_serving(cluster);
  // The same peer speaking the right version is welcomed.
  ASSERT_TRUE(peer.send(hello_with_version(proto::kVersion)));
  std::optional<proto::Message> welcome = peer.receive();
  ASSERT_TRUE(welcome);
  EXPECT_EQ(welcome->type(), proto::Type::kWelcome) << proto::type_name(welcome->type());
}

TEST(Protocol, MalformedFramesGetMalformedErrorsAndTheManagerKeepsServing) {
  TestCluster cluster;
  RawPeer peer(cluster, "raw-malformed-peer");
  std::mt19937 random(20240601);  // fixed seed: a failure can be reproduced
  for (int i = 0; i < 5; ++i) {
    std::string junk(16 + random() % 200, '\0');
    for (char& c : junk) c = static_cast<char>(random());
    junk[0] = static_cast<char>(0xc1);  // a byte msgpack never uses: cannot parse as a message
    ASSERT_TRUE(peer.send(junk));
    expect_error(peer.receive(), "malformed", "malformed");
  }
  // Well-formed msgpack that is not a message: a bare string, and a HELLO
  // whose fields have the wrong types.
  msgpack::sbuffer text;
  msgpack::pack(text, std::string("hello?"));
  ASSERT_TRUE(peer.send(std::string(text.data(), text.size())));
  expect_error(peer.receive(), "malformed", "malformed");
  msgpack::sbuffer bad_hello;
  msgpack::packer<msgpack::sbuffer> p(bad_hello);
  p.pack_array(4);
  p.pack_uint8(static_cast<std::uint8_t>(proto::Type::kHello));
  p.pack_uint32(proto::kVersion);
  p.pack(42);
  p.pack(std::string("not a map"));
  ASSERT_TRUE(peer.send(std::string(bad_hello.data(), bad_hello.size())));
  expect_error(peer.receive(), "malformed", "malformed");

  expect_still_serving(cluster);
  EXPECT_TRUE(cluster.manager().running()) << cluster.manager().read_stderr();
}

}  // namespace
}  // namespace uni::test
