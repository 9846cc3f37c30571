// The dashboard in a real browser: headless Chromium, driven by
// dashboard_driver.py through chromedriver, against a real cluster with
// `--http`. The page shows the right number of workers; its completed
// counter and tasks/s chart move while a `uni map` runs; a failing task
// appears in "Recent failures" with its error. The driver takes a screenshot
// (docs/dashboard.png is one). The driver's process group, Chromium
// included, is killed when the test ends, whatever happened.
#include <gtest/gtest.h>

#include <filesystem>

#include "operability_support.hpp"

namespace uni::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

TEST(DashboardBrowser, ShowsWorkersProgressAndFailuresLive) {
  TestCluster cluster({.workers = 2, .slots = 1, .manager_args = {"--http", "127.0.0.1:0"}});
  std::string url = dashboard_url(cluster);
  ASSERT_FALSE(url.empty()) << cluster.manager().read_stdout();
  std::string screenshot = (cluster.dir() / "dashboard.png").string();
  ChildProcess driver = cluster.start(
      "driver", {"/usr/bin/python3", UNI_DASHBOARD_DRIVER, "--url", url, "--screenshot", screenshot,
                 "--profile", (cluster.dir() / "chromium").string(), "--failure",
                 "boom: shown-in-the-browser", "--timeout", "60"});
  ASSERT_TRUE(driver.wait_for_stdout("READY\n", 90s))
      << "the page did not render in Chromium\n"
      << driver.read_stdout() << driver.read_stderr();

  // Tasks while the page watches: a map of 120 x 50 ms on 2 slots, and a failure.
  std::vector<std::string> lines(120, "[50]");
  ChildProcess map = cluster.start("map", {uni_binary(), "map", module_path("testfns"), "sleep_ms",
                                           "--input", write_input(cluster, "in.jsonl", lines)});
  CommandResult fail = cluster.uni({"run", module_path("testfns"), "fail", "shown-in-the-browser"});
  EXPECT_EQ(fail.exit_code, 1) << fail.describe();

  auto exit = driver.wait_for(150s);
  ASSERT_TRUE(exit.has_value()) << "the driver did not finish\n" << driver.read_stderr();
  EXPECT_EQ(exit->code, 0) << exit->describe() << "\n" << driver.read_stderr();
  std::string last = split_lines(driver.read_stdout()).back();
  json seen = json::parse(last, nullptr, false);
  ASSERT_TRUE(seen.is_object()) << driver.read_stdout() << driver.read_stderr();
  SCOPED_TRACE(seen.dump(2));
  EXPECT_FALSE(seen.contains("timeouts"));
  EXPECT_EQ(seen["title"], "uni dashboard");
  // The right number of workers, as a tile and as table rows.
  EXPECT_EQ(seen["first"]["workers_text"], "2");
  EXPECT_EQ(seen["first"]["worker_rows"], 2);
  // The completed counter and the chart moved while the map ran.
  EXPECT_GT(seen["later"]["completed"].get<int>(), seen["first"]["completed"].get<int>());
  EXPECT_GT(seen["later"]["chart_total"].get<int>(), seen["first"]["chart_total"].get<int>());
  EXPECT_NE(seen["later"]["chart_hash"], seen["first"]["chart_hash"]);
  EXPECT_GT(seen["later"]["updates"].get<int>(), seen["first"]["updates"].get<int>());
  // The failure is listed with its error.
  EXPECT_GE(seen["failed"]["failure_items"].get<int>(), 1);
  EXPECT_TRUE(
      contains(seen["failed"]["failures_text"].get<std::string>(), "boom: shown-in-the-browser"));
  EXPECT_TRUE(contains(seen["failed"]["failures_text"].get<std::string>(), "fail"));
  EXPECT_FALSE(seen["final"]["unreachable"].get<bool>());
  // A real screenshot: a PNG of some size.
  ASSERT_TRUE(std::filesystem::exists(screenshot));
  EXPECT_GT(std::filesystem::file_size(screenshot), 20000u);
  EXPECT_EQ(read_text(screenshot).substr(1, 3), "PNG");
  if (const char* keep = std::getenv("UNI_KEEP_DASHBOARD_SCREENSHOT"))
    std::filesystem::copy_file(screenshot, keep, std::filesystem::copy_options::overwrite_existing);

  auto map_exit = map.wait_for(60s);
  ASSERT_TRUE(map_exit.has_value());
  EXPECT_EQ(map_exit->code, 0) << map.read_stderr();
  // Chromium and chromedriver went with the driver.
  EXPECT_TRUE(wait_processes_gone(driver.processes(), 10s));
}

}  // namespace
}  // namespace uni::test
