// The address picks the broker (src/broker/broker.hpp): a nats:// address is
// refused by every command that takes one, with exit code 3 and a message
// that says NATS is not supported yet and what to give instead, without
// repeating the address (a NATS URL may carry a password). Issue 9 replaces
// this refusal with the NATS JetStream links.
#include <gtest/gtest.h>

#include "test_cluster.hpp"

namespace uni::test {
namespace {

TEST(BrokerAddress, ANatsAddressIsRefusedClearlyUntilItsLinksAreBuilt) {
  TestCluster cluster({.workers = 0});
  const std::string nats = "nats://user:s3cret@127.0.0.1:4222";
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"status", "--connect", nats},
        std::vector<std::string>{"run", "--connect", nats, module_path("testfns"), "add", "1", "2"},
        std::vector<std::string>{"worker", "--connect", nats}}) {
    CommandResult r = cluster.uni(args);
    EXPECT_EQ(r.exit_code, 3) << r.describe();
    EXPECT_NE(r.err.find("NATS JetStream clusters are not supported yet"), std::string::npos)
        << r.describe();
    EXPECT_NE(r.err.find("tcp://HOST:PORT"), std::string::npos) << r.describe();
    EXPECT_EQ(r.err.find("s3cret"), std::string::npos) << r.describe();
  }
  // The manager's own address still works beside it.
  CommandResult ok = cluster.uni({"status"});
  EXPECT_EQ(ok.exit_code, 0) << ok.describe();
}

}  // namespace
}  // namespace uni::test
