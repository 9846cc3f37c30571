// Connecting to real nats-server processes: messages flow; a wrong password,
// token or nkey fails within 5 s as kAuthFailed, an empty address as
// kUnreachable, each with a message that says so; TLS with certificates made
// by openssl at test time, mutual TLS included; a client survives the restart
// of its server and fails over to another node of a cluster.
#include <gtest/gtest.h>

#include "nats/client/connection.hpp"
#include "nats/client/error.hpp"
#include "nats/client/nkey.hpp"
#include "nats_server.hpp"
#include "net.hpp"
#include "tls_certificates.hpp"

namespace uni::nats {
namespace {

using namespace std::chrono_literals;
using test::NatsCluster;
using test::NatsServerOptions;

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Connects and expects a NatsError of `kind` within 5 s; returns its message.
std::string expect_refused(const ConnectOptions& options, FailureKind kind) {
  auto start = std::chrono::steady_clock::now();
  try {
    Connection::connect(options);
  } catch (const NatsError& e) {
    auto elapsed = std::chrono::steady_clock::now() - start;
    EXPECT_EQ(e.kind(), kind) << e.what();
    EXPECT_LT(elapsed, 5s) << e.what();
    return e.what();
  }
  ADD_FAILURE() << "connected to " << options.address;
  return "";
}

void expect_round_trip(Connection& connection) {
  Subscription sub = connection.subscribe("uni.test.echo");
  connection.flush();
  connection.publish("uni.test.echo", "hello");
  std::optional<Message> got = sub.next(5s);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->data(), "hello");
}

TEST(NatsConnect, DeliversACoreMessage) {
  NatsCluster nats;
  Connection connection = Connection::connect({.address = nats.address()});
  EXPECT_TRUE(connection.connected());
  EXPECT_EQ(connection.connected_url(), nats.node(0).url());
  EXPECT_EQ(connection.max_payload(), 1 << 20);
  expect_round_trip(connection);
}

TEST(NatsConnect, WrongPasswordFailsFastAsAuthFailed) {
  NatsCluster nats(1, {.auth = {.user = "uni", .password = "right"}});
  std::string url = nats.node(0).url();
  Connection in_url = Connection::connect({.address = "nats://uni:right@" + url.substr(7)});
  expect_round_trip(in_url);
  Connection apart = Connection::connect({.address = url, .user = "uni", .password = "right"});
  expect_round_trip(apart);

  std::string message =
      expect_refused({.address = "nats://uni:wrong@" + url.substr(7)}, FailureKind::kAuthFailed);
  EXPECT_TRUE(contains(message, "NATS authentication failed")) << message;
  EXPECT_TRUE(contains(message, "user/password")) << message;
  EXPECT_FALSE(contains(message, "wrong@")) << "the password leaked into: " << message;
  expect_refused({.address = url}, FailureKind::kAuthFailed);  // none given
}

TEST(NatsConnect, WrongTokenFailsFastAsAuthFailed) {
  NatsCluster nats(1, {.auth = {.token = "t0ken"}});
  Connection good = Connection::connect({.address = nats.node(0).url(), .token = "t0ken"});
  expect_round_trip(good);
  std::string message =
      expect_refused({.address = nats.node(0).url(), .token = "other"}, FailureKind::kAuthFailed);
  EXPECT_TRUE(contains(message, "token")) << message;
}

TEST(NatsConnect, NkeyMadeByUniIsAcceptedAndAnUnknownOneRefused) {
  NKey allowed = NKey::generate_user();
  NatsCluster nats(1, {.auth = {.nkeys = {allowed.public_key()}}});
  Connection good =
      Connection::connect({.address = nats.node(0).url(), .nkey_seed = allowed.seed()});
  expect_round_trip(good);
  std::string message =
      expect_refused({.address = nats.node(0).url(), .nkey_seed = NKey::generate_user().seed()},
                     FailureKind::kAuthFailed);
  EXPECT_TRUE(contains(message, "nkey")) << message;
}

TEST(NatsConnect, NoServerAtTheAddressFailsFastAsUnreachable) {
  std::string address = "nats://127.0.0.1:" + std::to_string(test::free_tcp_port()) +
                        ",nats://127.0.0.1:" + std::to_string(test::free_tcp_port());
  std::string message = expect_refused({.address = address}, FailureKind::kUnreachable);
  EXPECT_TRUE(contains(message, "cannot reach a NATS server at " + address)) << message;
}

TEST(NatsConnect, TlsWithCertificatesMadeAtTestTime) {
  test::TempDir dir("uni-nats-tls");
  test::TestCertificates certs = test::TestCertificates::make(dir.path());
  NatsCluster nats(1, {.tls = {.cert_file = certs.server_cert, .key_file = certs.server_key}});
  std::string url = nats.node(0).url();
  ASSERT_TRUE(url.starts_with("tls://"));
  Connection connection = Connection::connect({.address = url, .tls_ca_file = certs.ca_cert});
  expect_round_trip(connection);
  // Without the CA, the server's certificate is not trusted.
  std::string message = expect_refused({.address = url}, FailureKind::kTls);
  EXPECT_TRUE(contains(message, "TLS")) << message;
  // A plain connection to a TLS server is refused as such too.
  expect_refused({.address = "nats://" + url.substr(6)}, FailureKind::kTls);
}

TEST(NatsConnect, MutualTlsNeedsTheClientCertificate) {
  test::TempDir dir("uni-nats-mtls");
  test::TestCertificates certs = test::TestCertificates::make(dir.path());
  NatsCluster nats(1, {.tls = {.cert_file = certs.server_cert,
                               .key_file = certs.server_key,
                               .ca_file = certs.ca_cert,
                               .verify_clients = true}});
  std::string url = nats.node(0).url();
  Connection connection = Connection::connect({.address = url,
                                               .tls_ca_file = certs.ca_cert,
                                               .tls_cert_file = certs.client_cert,
                                               .tls_key_file = certs.client_key});
  expect_round_trip(connection);
  std::string message =
      expect_refused({.address = url, .tls_ca_file = certs.ca_cert}, FailureKind::kTls);
  EXPECT_TRUE(contains(message, "client certificate")) << message;
}

TEST(NatsConnect, ReconnectsWhenItsServerComesBack) {
  NatsCluster nats;
  Connection connection = Connection::connect({.address = nats.address()});
  nats.node(0).restart();
  auto deadline = std::chrono::steady_clock::now() + 20s;
  while (connection.reconnects() == 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(50ms);
  EXPECT_EQ(connection.reconnects(), 1u);
  expect_round_trip(connection);
}

TEST(NatsConnect, FailsOverToAnotherNodeOfTheCluster) {
  NatsCluster nats(3);
  Connection connection = Connection::connect({.address = nats.address(), .ordered_servers = true});
  ASSERT_EQ(connection.connected_url(), nats.node(0).url());
  nats.node(0).kill();
  auto deadline = std::chrono::steady_clock::now() + 20s;
  while (connection.reconnects() == 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(50ms);
  EXPECT_EQ(connection.reconnects(), 1u);
  std::string now = connection.connected_url();
  EXPECT_TRUE(now == nats.node(1).url() || now == nats.node(2).url()) << now;
  expect_round_trip(connection);
}

}  // namespace
}  // namespace uni::nats
