// The manager's HTTP face: off unless --http is given; /metrics
// is valid Prometheus text (tests/support/prometheus_text.hpp) whose
// counters, gauges and histograms count what the cluster did; /api/status is
// the JSON of `uni status --json`; / serves the dashboard with every asset
// from the manager itself; nothing changes the cluster (read-only); a bad
// --http address is a clear usage error.
#include <gtest/gtest.h>

#include "operability_support.hpp"
#include "prometheus_text.hpp"

namespace uni::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

ClusterOptions with_http(int workers = 1, unsigned slots = 2) {
  return {.workers = workers, .slots = slots, .manager_args = {"--http", "127.0.0.1:0"}};
}

TEST(Http, OffUnlessAsked) {
  TestCluster cluster({.workers = 0});
  cluster.uni({"status"});
  EXPECT_FALSE(contains(cluster.manager().read_stdout(), "dashboard"))
      << cluster.manager().read_stdout();
}

TEST(Http, MetricsAreValidPrometheusTextThatCountsTheTasks) {
  TestCluster cluster(with_http(1, 2));
  std::string url = dashboard_url(cluster);
  ASSERT_FALSE(url.empty()) << cluster.manager().read_stdout();
  ASSERT_EQ(url.rfind("http://127.0.0.1:", 0), 0u) << url;
  std::vector<std::string> lines(20, "[1]");
  CommandResult map = cluster.uni(
      {"map", module_path("testfns"), "ident", "--input", write_input(cluster, "in.jsonl", lines)});
  ASSERT_EQ(map.exit_code, 0) << map.describe();
  ASSERT_EQ(cluster.uni({"run", module_path("testfns"), "fail", "y"}).exit_code, 1);

  // Snapshots are at most half a second old: wait for the last result.
  std::function<HttpReply()> get = [&] { return http_get(url, "/metrics"); };
  HttpReply reply = poll_until(get, std::function<bool(const HttpReply&)>([](const HttpReply& r) {
                                 return contains(r.body, "\nuni_tasks_failed_total 1\n");
                               }));
  ASSERT_EQ(reply.status, 200) << reply.body;
  EXPECT_EQ(reply.content_type, "text/plain; version=0.0.4; charset=utf-8");
  std::map<std::string, PromFamily> m;
  try {
    m = parse_prometheus_text(reply.body);
  } catch (const std::exception& e) {
    FAIL() << e.what() << "\n" << reply.body;
  }
  for (const auto& [name, f] : m) {
    EXPECT_EQ(name.rfind("uni_", 0), 0u) << name;
    if (f.type == "counter") {
      EXPECT_TRUE(name.ends_with("_total")) << name;
    }
  }
  EXPECT_EQ(m.at("uni_tasks_submitted_total").value(), 21);
  EXPECT_EQ(m.at("uni_tasks_completed_total").value(), 20);
  EXPECT_EQ(m.at("uni_tasks_failed_total").value(), 1);
  EXPECT_EQ(m.at("uni_tasks_requeued_total").value(), 0);
  EXPECT_EQ(m.at("uni_tasks_cancelled_total").value(), 0);
  EXPECT_GT(m.at("uni_module_uploaded_bytes_total").value(), 0);
  EXPECT_EQ(m.at("uni_module_store_bytes").value(),
            m.at("uni_module_uploaded_bytes_total").value());
  EXPECT_EQ(m.at("uni_workers").value(), 1);
  EXPECT_EQ(m.at("uni_slots").value(), 2);
  EXPECT_EQ(m.at("uni_slots_busy").value(), 0);
  EXPECT_EQ(m.at("uni_queue_tasks").value(), 0);
  EXPECT_EQ(m.at("uni_services").value(), 0);
  EXPECT_EQ(m.at("uni_task_run_seconds").value("uni_task_run_seconds_count"), 21);
  EXPECT_GT(m.at("uni_task_run_seconds").value("uni_task_run_seconds_sum"), 0);
  // One observation per assignment: a task sent to a worker that had not
  // received it (a TASKS message undelivered, say) is assigned again.
  EXPECT_GE(m.at("uni_task_queue_wait_seconds").value("uni_task_queue_wait_seconds_count"), 21);
  EXPECT_TRUE(m.count("uni_bosses_connected"));
}

TEST(Http, ApiStatusIsTheJsonOfUniStatus) {
  TestCluster cluster(with_http(2, 1));
  std::string url = dashboard_url(cluster);
  ASSERT_FALSE(url.empty());
  ASSERT_EQ(cluster.uni({"run", module_path("testfns"), "add", "1", "2"}).exit_code, 0);
  std::function<json()> api = [&] {
    HttpReply r = http_get(url, "/api/status");
    return r.status == 200 ? json::parse(r.body, nullptr, false) : json();
  };
  json j = poll_until(api, std::function<bool(const json&)>([](const json& s) {
                        return s.is_object() && s["totals"].value("completed", 0) == 1;
                      }));
  ASSERT_TRUE(j.is_object()) << j.dump();
  json cli = cluster.status();
  // The same document: the same keys everywhere, the same workers and totals.
  std::function<void(const json&, const json&, const std::string&)> same_shape =
      [&](const json& a, const json& b, const std::string& where) {
        if (a.is_number() && b.is_number()) return;  // 2 and 2.5: JSON has one number type
        ASSERT_EQ(a.type(), b.type()) << where;
        if (a.is_object()) {
          for (auto it = a.begin(); it != a.end(); ++it) {
            ASSERT_TRUE(b.contains(it.key())) << where << "." << it.key();
            same_shape(it.value(), b[it.key()], where + "." + it.key());
          }
          EXPECT_EQ(a.size(), b.size()) << where;
        } else if (a.is_array() && !a.empty() && !b.empty()) {
          same_shape(a[0], b[0], where + "[0]");
        }
      };
  same_shape(j, cli, "status");
  EXPECT_EQ(j["manager"], cli["manager"]);
  EXPECT_EQ(j["totals"]["submitted"], cli["totals"]["submitted"]);
  std::set<std::string> a, b;
  for (const json& w : j["workers"]) a.insert(w.value("id", ""));
  for (const json& w : cli["workers"]) b.insert(w.value("id", ""));
  EXPECT_EQ(a, b);
  EXPECT_EQ(a.size(), 2u);
}

TEST(Http, TheDashboardIsServedWhollyByTheManager) {
  TestCluster cluster(with_http(0));
  std::string url = dashboard_url(cluster);
  ASSERT_FALSE(url.empty());
  HttpReply page = http_get(url, "/");
  ASSERT_EQ(page.status, 200);
  EXPECT_EQ(page.content_type, "text/html; charset=utf-8");
  EXPECT_TRUE(contains(page.body, "<canvas id=\"chart\"")) << page.body;
  for (const auto& [path, type] :
       {std::pair<std::string, std::string>{"/dashboard.js", "text/javascript; charset=utf-8"},
        {"/dashboard.css", "text/css; charset=utf-8"}}) {
    EXPECT_TRUE(contains(page.body, "\"" + path + "\"")) << path;
    HttpReply asset = http_get(url, path);
    EXPECT_EQ(asset.status, 200) << path;
    EXPECT_EQ(asset.content_type, type) << path;
    EXPECT_GT(asset.body.size(), 500u) << path;
    // Nothing from the network: no absolute or protocol-relative URL.
    for (const std::string& body : {page.body, asset.body}) {
      EXPECT_FALSE(contains(body, "http://")) << path;
      EXPECT_FALSE(contains(body, "https://")) << path;
      EXPECT_FALSE(contains(body, "\"//")) << path;
    }
  }
  HttpReply history = http_get(url, "/api/history");
  ASSERT_EQ(history.status, 200);
  json h = json::parse(history.body, nullptr, false);
  EXPECT_TRUE(h.contains("tasks_per_second") && h["tasks_per_second"].is_array()) << history.body;
  EXPECT_EQ(http_get(url, "/no-such-page").status, 404);
}

TEST(Http, ItIsReadOnly) {
  TestCluster cluster(with_http(1, 1));
  std::string url = dashboard_url(cluster);
  ASSERT_FALSE(url.empty());
  json before = cluster.status();
  for (std::string method : {"POST", "PUT", "DELETE"})
    for (std::string path : {"/", "/api/status", "/metrics", "/api/tasks"}) {
      HttpReply r = http_request(url, method, path);
      EXPECT_GE(r.status, 400) << method << " " << path << ": " << r.status;
    }
  json after = cluster.status();
  EXPECT_EQ(before["totals"], after["totals"]);
  EXPECT_EQ(before["workers"].size(), after["workers"].size());
  EXPECT_EQ(cluster.uni({"run", module_path("testfns"), "add", "2", "2"}).exit_code, 0);
}

TEST(Http, ABadAddressIsAUsageError) {
  TempDir dir;
  for (std::string address : {"127.0.0.1:http", "127.0.0.1:70000", ":8080"}) {
    ChildProcess m =
        ChildProcess::start({.argv = {uni_binary(), "manager", "--listen", "tcp://127.0.0.1:0",
                                      "--authkey", "k", "--http", address},
                             .env = {"UNI_CONFIG_DIR=" + (dir / "c").string()},
                             .output_dir = dir.path(),
                             .name = "manager"});
    auto exit = m.wait_for(20s);
    ASSERT_TRUE(exit.has_value()) << address;
    EXPECT_EQ(exit->code, 2) << address << ": " << m.read_stderr();
    EXPECT_TRUE(contains(m.read_stderr(), "--http " + address)) << m.read_stderr();
  }
}

// A port another manager's dashboard listens on is busy: the second manager
// exits 2 instead of sharing it (cpp-httplib's SO_REUSEPORT let both start,
// and the kernel split the requests between two clusters' dashboards).
TEST(Http, ABusyPortIsAUsageError) {
  TestCluster cluster(with_http(0));
  std::string url = dashboard_url(cluster);
  ASSERT_FALSE(url.empty()) << cluster.manager().read_stdout();
  std::string port = url.substr(url.rfind(':') + 1);
  TempDir dir;
  ChildProcess second =
      ChildProcess::start({.argv = {uni_binary(), "manager", "--listen", "tcp://127.0.0.1:0",
                                    "--authkey", "k", "--http", "127.0.0.1:" + port},
                           .env = {"UNI_CONFIG_DIR=" + (dir / "c").string()},
                           .output_dir = dir.path(),
                           .name = "manager"});
  auto exit = second.wait_for(20s);
  ASSERT_TRUE(exit.has_value()) << "a second manager started on the busy port " << port << ": "
                                << second.read_stdout();
  EXPECT_EQ(exit->code, 2) << second.read_stderr();
  EXPECT_TRUE(contains(second.read_stderr(), "--http 127.0.0.1:" + port)) << second.read_stderr();
  // The first one still serves its dashboard.
  EXPECT_EQ(http_get(url, "/api/status").status, 200);
}

}  // namespace
}  // namespace uni::test
