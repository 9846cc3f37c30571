// Credentials never reach a log line, at any level: a worker and CLI
// commands on a password-protected nats-server, with the password in the URL
// and UNI_LOG_LEVEL=debug, a wrong password, and a token in the URL. Every
// line of their stderr is searched for the secret.
#include <gtest/gtest.h>

#include "nats_test_util.hpp"
#include "uni_on_nats.hpp"

namespace uni::test {
namespace {

using namespace std::chrono_literals;

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// nats://USERINFO@127.0.0.1:PORT for the server at `url`.
std::string with_userinfo(const std::string& url, const std::string& userinfo) {
  return "nats://" + userinfo + "@" + url.substr(url.find("://") + 3);
}

TEST(LogRedaction, APasswordInTheNatsUrlIsNeverLoggedEvenAtDebug) {
  const std::string password = "pw-s3cret-9317";
  NatsCluster nats(1, {.auth = {.user = "uni", .password = password}});
  const std::string address = with_userinfo(nats.node(0).url(), "uni:" + password);
  UniOnNats uni(address, {"UNI_LOG_LEVEL=debug"});
  ChildProcess worker = uni.worker();
  UniOnNats::Outcome run = uni.cli({"run", module_path("testfns"), "add", "2", "3"});
  EXPECT_EQ(run.status.code, 0) << run.err;
  EXPECT_EQ(run.out, "5\n");
  UniOnNats::Outcome status = uni.cli({"status"});
  EXPECT_EQ(status.status.code, 0) << status.err;
  // A wrong password: refused, and the refusal names no secret either.
  UniOnNats wrong(with_userinfo(nats.node(0).url(), "uni:wrong-" + password),
                  {"UNI_LOG_LEVEL=debug"});
  UniOnNats::Outcome refused = wrong.cli({"run", module_path("testfns"), "add", "2", "3"});
  EXPECT_EQ(refused.status.code, 3) << refused.err;
  worker.signal(SIGTERM);
  worker.wait_for(10s);

  for (const std::string& log : {worker.read_stderr(), run.err, status.err, refused.err}) {
    EXPECT_FALSE(has(log, password)) << "the password leaked into:\n" << log;
  }
  // Debug output was there to leak into.
  EXPECT_TRUE(has(worker.read_stderr(), "debug")) << worker.read_stderr();
}

TEST(LogRedaction, ATokenInTheNatsUrlIsNeverLogged) {
  const std::string token = "tok-s3cret-5521";
  NatsCluster nats(1, {.auth = {.token = token}});
  UniOnNats uni(with_userinfo(nats.node(0).url(), token), {"UNI_LOG_LEVEL=debug"});
  ChildProcess worker = uni.worker();
  UniOnNats::Outcome run = uni.cli({"run", module_path("testfns"), "add", "2", "3"});
  EXPECT_EQ(run.status.code, 0) << run.err;
  worker.signal(SIGTERM);
  worker.wait_for(10s);
  for (const std::string& log : {worker.read_stderr(), run.err})
    EXPECT_FALSE(has(log, token)) << "the token leaked into:\n" << log;
}

}  // namespace
}  // namespace uni::test
