// The address picks the broker (src/app/links.hpp): a nats:// address goes
// to the NATS JetStream links. With no NATS server there, every
// command that takes an address fails with exit code 3 and a message naming
// the servers it tried, without repeating the URL's password.
#include <gtest/gtest.h>

#include "net.hpp"
#include "test_cluster.hpp"

namespace uni::test {
namespace {

TEST(BrokerAddress, AnUnreachableNatsAddressFailsClearlyWithoutItsPassword) {
  TestCluster cluster({.workers = 0});
  const std::string server = "127.0.0.1:" + std::to_string(free_tcp_port());
  const std::string nats = "nats://user:s3cret@" + server;
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"status", "--connect", nats},
        std::vector<std::string>{"run", "--connect", nats, module_path("testfns"), "add", "1", "2"},
        std::vector<std::string>{"worker", "--connect", nats, "--connect-timeout", "1"}}) {
    CommandResult r = cluster.uni(args);
    EXPECT_EQ(r.exit_code, 3) << r.describe();
    EXPECT_NE(r.err.find("NATS"), std::string::npos) << r.describe();
    EXPECT_NE(r.err.find(server), std::string::npos) << r.describe();
    EXPECT_EQ(r.err.find("s3cret"), std::string::npos) << r.describe();
  }
  // The manager's own address still works beside it.
  CommandResult ok = cluster.uni({"status"});
  EXPECT_EQ(ok.exit_code, 0) << ok.describe();
}

}  // namespace
}  // namespace uni::test
