// The manager's HTTP port (--http) from the attacker's side: a POST that
// announces 2 GB, fifty clients that trickle their headers, idle connections
// past the connection cap, oversized heads, a foreign Host header (DNS
// rebinding), missing or wrong bearer tokens. Meanwhile /api/status must
// answer within a second and the manager stay small. Also: the descriptor
// limit raised at start and shown by `uni status`, and --http-redact.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <atomic>
#include <fstream>
#include <thread>

#include "hostile_peers.hpp"
#include "test_cluster.hpp"

namespace uni::test {
namespace {

using namespace std::chrono_literals;

constexpr std::uint64_t kMiB = 1 << 20;

// The port of the manager's "dashboard on http://HOST:PORT/" line.
int http_port(TestCluster& cluster) {
  if (!cluster.manager().wait_for_stdout("dashboard on ", 10s)) return 0;
  for (const std::string& line : split_lines(cluster.manager().read_stdout()))
    if (line.rfind("dashboard on ", 0) == 0) {
      std::string url = line.substr(13);
      return std::stoi(url.substr(url.rfind(':') + 1));
    }
  return 0;
}

struct Reply {
  int status = 0;  // 0: none
  std::string head, body;
  std::chrono::milliseconds elapsed{0};
};

// One request on a fresh connection, "Connection: close", raw.
Reply request(int port, const std::string& text) {
  auto start = std::chrono::steady_clock::now();
  Reply reply;
  RawTcp tcp(port);
  if (!tcp.write(text)) return reply;
  std::string all = tcp.read_all(5s);
  reply.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - start);
  std::size_t end = all.find("\r\n\r\n");
  if (all.rfind("HTTP/1.1 ", 0) != 0 || end == std::string::npos) return reply;
  reply.status = std::stoi(all.substr(9, 3));
  reply.head = all.substr(0, end);
  reply.body = all.substr(end + 4);
  return reply;
}

Reply get(int port, const std::string& path, const std::string& extra_headers = "",
          const std::string& host = "127.0.0.1") {
  return request(port, "GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\n" + extra_headers +
                           "Connection: close\r\n\r\n");
}

TEST(HostileHttp, AHugeBodyAndFiftySlowClientsLeaveTheStatusAnsweringWithinASecond) {
  TestCluster cluster({.manager_args = {"--http", "127.0.0.1:0"}});
  const int port = http_port(cluster);
  ASSERT_GT(port, 0) << cluster.manager().read_stdout();
  const pid_t manager = cluster.manager().pid();
  ASSERT_EQ(get(port, "/api/status").status, 200);

  std::atomic<bool> stop{false};
  // A POST announcing 2 GB, streamed as fast as the server takes it.
  std::atomic<std::uint64_t> streamed{0};
  std::string answer_to_post;
  std::thread poster([&] {
    RawTcp tcp(port);
    tcp.write("POST /api/status HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2147483648\r\n\r\n");
    const std::string junk(64 * 1024, 'x');
    while (!stop && tcp.write(junk)) streamed += junk.size();
    answer_to_post = tcp.read_all(1s);
  });
  // Fifty clients that send a header line every 4 s, never finishing.
  std::vector<RawTcp> slow;
  for (int i = 0; i < 50; ++i) {
    slow.emplace_back(port);
    slow.back().write("GET /api/status HTTP/1.1\r\nHost: 127.0.0.1\r\n");
  }
  std::thread trickler([&] {
    for (int round = 0; round < 2 && !stop; ++round) {
      for (int i = 0; i < 40 && !stop; ++i) std::this_thread::sleep_for(100ms);
      for (RawTcp& tcp : slow) tcp.write("X-Slow: yes\r\n");
    }
  });

  auto until = std::chrono::steady_clock::now() + 7s;
  int answered = 0;
  while (std::chrono::steady_clock::now() < until) {
    Reply r = get(port, "/api/status");
    EXPECT_EQ(r.status, 200) << r.head;
    EXPECT_LT(r.elapsed, 1000ms);
    ++answered;
    std::this_thread::sleep_for(200ms);
  }
  stop = true;
  trickler.join();
  poster.join();
  EXPECT_GT(answered, 10);
  EXPECT_TRUE(contains(answer_to_post, "413")) << answer_to_post.substr(0, 200);
  // The slow ones were let go after the request time limit.
  std::size_t closed = 0;
  for (RawTcp& tcp : slow)
    if (tcp.closed_by_peer(100ms)) ++closed;
  EXPECT_EQ(closed, slow.size());
  std::uint64_t peak = peak_rss(manager);
  EXPECT_LT(peak, 200 * kMiB) << peak / kMiB << " MiB";
}

TEST(HostileHttp, IdleConnectionsPastTheCapGiveWayToARealRequest) {
  TestCluster cluster({.workers = 0, .manager_args = {"--http", "127.0.0.1:0"}});
  const int port = http_port(cluster);
  ASSERT_GT(port, 0);
  std::vector<RawTcp> idle;
  for (int i = 0; i < 100; ++i) idle.emplace_back(port);
  std::this_thread::sleep_for(200ms);
  Reply r = get(port, "/api/status");
  EXPECT_EQ(r.status, 200) << r.head;
  EXPECT_LT(r.elapsed, 1000ms);
  std::size_t closed = 0;
  for (RawTcp& tcp : idle)
    if (tcp.closed_by_peer(20ms)) ++closed;
  EXPECT_GE(closed, 36u);  // 100 idle, 64 at most kept, one let in
}

TEST(HostileHttp, OversizedHeadsBodiesAndOtherMethodsAreRefused) {
  TestCluster cluster({.workers = 0, .manager_args = {"--http", "127.0.0.1:0"}});
  const int port = http_port(cluster);
  ASSERT_GT(port, 0);
  EXPECT_EQ(get(port, "/api/status", "X-Big: " + std::string(9000, 'a') + "\r\n").status, 431);
  std::string many_headers;
  for (int i = 0; i < 70; ++i) many_headers += "X-" + std::to_string(i) + ": 1\r\n";
  EXPECT_EQ(get(port, "/api/status", many_headers).status, 431);
  Reply chunked = request(port,
                          "GET /api/status HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: "
                          "chunked\r\n\r\n");
  EXPECT_EQ(chunked.status, 413);
  Reply del = request(port, "DELETE /api/status HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  EXPECT_EQ(del.status, 405);
  EXPECT_TRUE(contains(del.head, "Allow: GET, HEAD")) << del.head;
  EXPECT_EQ(request(port, "NOT HTTP AT ALL\r\n\r\n").status, 400);
  // And it still serves.
  EXPECT_EQ(get(port, "/api/status").status, 200);
}

TEST(HostileHttp, TheHostHeaderMustNameTheServer) {
  TestCluster cluster(
      {.workers = 0, .manager_args = {"--http", "127.0.0.1:0", "--http-host", "dash.example"}});
  const int port = http_port(cluster);
  ASSERT_GT(port, 0);
  const std::string at = ":" + std::to_string(port);
  // A page of evil.example whose name was rebound to 127.0.0.1.
  Reply rebound = get(port, "/api/status", "", "evil.example" + at);
  EXPECT_EQ(rebound.status, 403);
  EXPECT_FALSE(contains(rebound.body, "workers")) << rebound.body;
  EXPECT_EQ(get(port, "/api/status", "", "127.0.0.1" + at).status, 200);
  EXPECT_EQ(get(port, "/api/status", "", "localhost" + at).status, 200);
  EXPECT_EQ(get(port, "/api/status", "", "dash.example" + at).status, 200);
  EXPECT_EQ(request(port, "GET /api/status HTTP/1.1\r\n\r\n").status, 403);  // no Host at all
}

TEST(HostileHttp, BeyondLoopbackABearerTokenIsRequired) {
  TestCluster cluster({.workers = 0});
  // Without a token the manager refuses to serve beyond loopback.
  ChildProcess bare = cluster.start("bare-manager", {uni_binary(), "manager", "--listen",
                                                     "tcp://127.0.0.1:0", "--http", "0.0.0.0:0"});
  std::optional<ExitStatus> exit = bare.wait_for(10s);
  ASSERT_TRUE(exit.has_value());
  EXPECT_EQ(exit->code, 2) << bare.read_stderr();
  EXPECT_TRUE(contains(bare.read_stderr(), "--http-token-file")) << bare.read_stderr();

  const std::string token_file = (cluster.dir() / "http-token").string();
  std::ofstream(token_file) << "s3cret-token-value\n";
  ChildProcess guarded =
      cluster.start("guarded-manager", {uni_binary(), "manager", "--listen", "tcp://127.0.0.1:0",
                                        "--http", "0.0.0.0:0", "--http-token-file", token_file});
  ASSERT_TRUE(guarded.wait_for_stdout("dashboard on ", 10s)) << guarded.read_stderr();
  std::string url;
  for (const std::string& line : split_lines(guarded.read_stdout()))
    if (line.rfind("dashboard on ", 0) == 0) url = line;
  const int port = std::stoi(url.substr(url.rfind(':') + 1));
  Reply none = get(port, "/api/status");
  EXPECT_EQ(none.status, 401);
  EXPECT_TRUE(contains(none.head, "WWW-Authenticate: Bearer")) << none.head;
  EXPECT_EQ(get(port, "/metrics", "Authorization: Bearer wrong\r\n").status, 401);
  EXPECT_EQ(get(port, "/metrics", "Authorization: Bearer s3cret-token-value\r\n").status, 200);
  EXPECT_EQ(get(port, "/").status, 401);
  // The dashboard: opened once with the token, then its cookie.
  Reply opened = get(port, "/?token=s3cret-token-value");
  EXPECT_EQ(opened.status, 303) << opened.head;
  EXPECT_TRUE(contains(opened.head, "Set-Cookie: uni_token=s3cret-token-value; Path=/; HttpOnly"))
      << opened.head;
  EXPECT_EQ(get(port, "/api/status", "Cookie: uni_token=s3cret-token-value\r\n").status, 200);
  EXPECT_EQ(get(port, "/?token=wrong").status, 401);
  // The token is never logged.
  EXPECT_FALSE(contains(guarded.read_stderr(), "s3cret")) << guarded.read_stderr();
}

TEST(HostileHttp, RedactLeavesTaskErrorsOutOfTheStatus) {
  TestCluster cluster({.manager_args = {"--http", "127.0.0.1:0", "--http-redact"}});
  const int port = http_port(cluster);
  ASSERT_GT(port, 0);
  ASSERT_EQ(cluster.uni({"run", module_path("testfns"), "fail", "\"private-argument\""}).exit_code,
            1);
  std::string body;
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (std::chrono::steady_clock::now() < deadline) {
    body = get(port, "/api/status").body;
    if (contains(body, "recent_failures\":[{")) break;
    std::this_thread::sleep_for(100ms);
  }
  nlohmann::json status = nlohmann::json::parse(body);
  ASSERT_EQ(status["recent_failures"].size(), 1u) << body;
  EXPECT_EQ(status["recent_failures"][0]["error"], "[redacted]");
  EXPECT_FALSE(contains(body, "private-argument")) << body;
  // `uni status` itself, for those who hold the key, still says why.
  EXPECT_TRUE(contains(cluster.uni({"status"}).out, "private-argument"));
}

TEST(Descriptors, TheLimitIsRaisedAtStartAndStatusSaysHowManyAreInUse) {
  // The manager inherits a low soft limit, as from a default shell.
  rlimit limit{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &limit), 0);
  rlimit low = limit;
  low.rlim_cur = std::min<rlim_t>(256, limit.rlim_max);
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &low), 0);
  std::optional<TestCluster> started;
  started.emplace(ClusterOptions{.workers = 0});
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &limit), 0);
  TestCluster& cluster = *started;
  nlohmann::json status = cluster.status();
  EXPECT_EQ(status["limits"]["descriptor_limit"].get<std::uint64_t>(), limit.rlim_max);
  EXPECT_GT(status["limits"]["descriptors"].get<std::uint64_t>(), 3u);
  CommandResult text = cluster.uni({"status"});
  EXPECT_TRUE(contains(text.out, "descriptors: ")) << text.out;
  EXPECT_TRUE(contains(text.out, " in use of " + std::to_string(limit.rlim_max))) << text.out;
}

}  // namespace
}  // namespace uni::test
