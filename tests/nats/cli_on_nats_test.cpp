// What the uni CLI does on NATS alone: messages that name the NATS cluster
// rather than a manager, `uni result` over tls://, and a wrong scheme. Run,
// map, status, stop, submit/result, the examples, a wrong credential and a
// poison task are tested on both brokers in tests/behaviour.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "nats_test_util.hpp"
#include "net.hpp"
#include "tls_certificates.hpp"
#include "uni_on_nats.hpp"

namespace uni::test {
namespace {

using namespace std::chrono_literals;

TEST(CliOnNats, AWorkerStartedBeforeItsClusterSaysItWaitsForTheNatsCluster) {
  const std::string address = "nats://127.0.0.1:" + std::to_string(free_tcp_port());
  UniOnNats uni(address);
  ChildProcess worker = uni.start_cli({"worker"});
  EXPECT_TRUE(worker.wait_for_stderr("waiting for a NATS cluster at " + address + ":", 20s))
      << worker.read_stderr();
  EXPECT_EQ(worker.read_stderr().find("manager"), std::string::npos) << worker.read_stderr();
  worker.kill(SIGTERM);
  EXPECT_TRUE(worker.wait_for(10s).has_value());
}

// `uni result` on a cluster that cannot tell an unknown task from an
// unfinished one says so, whichever scheme the address takes: tls:// as
// nats://.
TEST(CliOnNats, ResultWithoutOneSaysTheTaskMayBeUnknownAlsoOverTls) {
  test::TempDir dir("uni-nats-result-tls");
  TestCertificates certs = TestCertificates::make(dir.path());
  NatsCluster nats(1, {.tls = {.cert_file = certs.server_cert, .key_file = certs.server_key}});
  ASSERT_TRUE(nats.address().starts_with("tls://")) << nats.address();
  UniOnNats uni(nats.address(), {"UNI_NATS_TLS_CA=" + certs.ca_cert});
  const std::string id = proto::TaskId{0x1234, 1}.str();
  UniOnNats::Outcome none = uni.cli({"result", id});
  EXPECT_EQ(none.status.code, 4) << none.err;
  EXPECT_NE(none.err.find("has no result yet (still queued or running, or unknown or expired)"),
            std::string::npos)
      << none.err;
}

// Errors that pointed the wrong way: tcp:// aimed at a NATS server said
// "wrong authkey?", and a scheme typo (nat://) was exit 3, "cannot connect".
TEST(CliOnNats, AWrongSchemeSaysWhatListensOrNamesTheSchemes) {
  NatsCluster nats;
  const std::string host_port = nats.address().substr(std::string("nats://").size());
  UniOnNats zmq("tcp://" + host_port, {"UNI_AUTHKEY=k"});
  UniOnNats::Outcome status = zmq.cli({"status"});
  EXPECT_EQ(status.status.code, 3) << status.err;
  EXPECT_NE(status.err.find("is a NATS server"), std::string::npos) << status.err;
  EXPECT_NE(status.err.find("nats://" + host_port), std::string::npos) << status.err;
  EXPECT_EQ(status.err.find("wrong authkey"), std::string::npos) << status.err;
  UniOnNats::Outcome worker = zmq.cli({"worker", "--connect-timeout", "20"});
  EXPECT_EQ(worker.status.code, 3) << worker.err;
  EXPECT_NE(worker.err.find("is a NATS server"), std::string::npos) << worker.err;

  UniOnNats typo("nat://" + host_port);
  for (const char* command : {"status", "worker"}) {
    UniOnNats::Outcome r = typo.cli({command});
    EXPECT_EQ(r.status.code, 2) << r.err;
    EXPECT_NE(r.err.find("unknown scheme nat://"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("nats://HOST:PORT"), std::string::npos) << r.err;
  }
}

}  // namespace
}  // namespace uni::test
