// NatsAddress: a comma list of nats:// URLs becomes servers plus one set of
// credentials; anything else is refused with a message naming the bad part.
#include <gtest/gtest.h>

#include "nats/client/address.hpp"

namespace uni::nats {
namespace {

TEST(NatsAddress, SplitsServersAndLiftsCredentials) {
  NatsAddress a = NatsAddress::parse("nats://alice:s%40cret@h1:4222, nats://h2:5222,nats://h3");
  EXPECT_EQ(a.servers,
            (std::vector<std::string>{"nats://h1:4222", "nats://h2:5222", "nats://h3:4222"}));
  EXPECT_EQ(a.user, "alice");
  EXPECT_EQ(a.password, "s@cret");
  EXPECT_FALSE(a.token);
  EXPECT_FALSE(a.tls);
}

TEST(NatsAddress, TokenAndTls) {
  NatsAddress a = NatsAddress::parse("tls://T0KEN@127.0.0.1:4443,tls://[::1]:4443");
  EXPECT_EQ(a.servers, (std::vector<std::string>{"tls://127.0.0.1:4443", "tls://[::1]:4443"}));
  EXPECT_EQ(a.token, "T0KEN");
  EXPECT_TRUE(a.tls);
}

TEST(NatsAddress, RefusesWhatIsNotANatsAddress) {
  auto message = [](const char* text) {
    try {
      NatsAddress::parse(text);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  EXPECT_NE(message("tcp://127.0.0.1:7070").find("not a NATS URL"), std::string::npos);
  EXPECT_NE(message("nats://h1:4222,,nats://h2").find("empty server URL"), std::string::npos);
  EXPECT_NE(message("nats://h1:99999").find("not a number from 1 to 65535"), std::string::npos);
  EXPECT_NE(message("nats://:4222").find("names no host"), std::string::npos);
  EXPECT_NE(message("nats://a:b@h1,nats://c:d@h2").find("different users"), std::string::npos);
  EXPECT_NE(message("nats://h1/path").find("has a path"), std::string::npos);
  EXPECT_EQ(message(""), "the NATS address is empty");
}

TEST(NatsAddress, TellsNatsFromTheBuiltInManager) {
  EXPECT_TRUE(is_nats_address("nats://h:4222"));
  EXPECT_TRUE(is_nats_address(" tls://h:4222"));
  EXPECT_FALSE(is_nats_address("tcp://127.0.0.1:7070"));
}

}  // namespace
}  // namespace uni::nats
