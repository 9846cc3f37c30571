// Proves src/manager/metrics.hpp: histogram buckets are cumulative with
// +Inf; the throughput history samples once a second and spreads a held-up
// loop's seconds; recent failures keep the newest 20, cut long errors on a
// UTF-8 boundary; and the Prometheus text is valid exposition format (a
// strict reader: tests/support/prometheus_text.hpp) with every metric named
// uni_..., with HELP and TYPE, counters ending _total and units in names.
#include <gtest/gtest.h>

#include "manager/metrics.hpp"
#include "prometheus_text.hpp"

namespace {

using namespace uni::manager;
using namespace std::chrono_literals;

TEST(Histogram, CountsEachObservationInItsBucketAndAbove) {
  Histogram h;
  h.observe(200us);  // <= 0.0005
  h.observe(3ms);    // <= 0.005
  h.observe(90s);    // above every bound
  EXPECT_EQ(h.count(), 3u);
  EXPECT_EQ(h.cumulative(0), 1u);
  EXPECT_EQ(h.cumulative(2), 1u);  // 0.0025
  EXPECT_EQ(h.cumulative(3), 2u);  // 0.005
  EXPECT_EQ(h.cumulative(Histogram::kBounds.size() - 1), 2u);
  EXPECT_EQ(h.cumulative(Histogram::kBounds.size()), 3u);
  EXPECT_NEAR(h.sum(), 90.0032, 1e-9);
}

TEST(ThroughputHistory, OneSampleASecondAndTheRateOverTheLastOnes) {
  ThroughputHistory t;
  Clock::time_point start{};
  start += 1h;
  t.tick(start, 0);
  t.tick(start + 500ms, 50);  // not a second yet
  EXPECT_TRUE(t.per_second().empty());
  EXPECT_DOUBLE_EQ(t.rate(start + 500ms, 50, 10), 100.0);  // the second under way counts
  t.tick(start + 1s, 100);
  t.tick(start + 2s, 300);
  EXPECT_EQ(t.per_second(), (std::vector<std::uint64_t>{100, 200}));
  EXPECT_DOUBLE_EQ(t.rate(start + 2s, 300, 10), 150.0);  // over the 2 s there are
  // Half a second into the third: 100 more.
  EXPECT_DOUBLE_EQ(t.rate(start + 2500ms, 400, 10), 400.0 / 2.5);
  EXPECT_DOUBLE_EQ(t.rate(start + 2500ms, 400, 2), 300.0 / 1.5);
  // A loop held up 3 s: the seconds are filled with the average, the sum kept.
  t.tick(start + 5s, 600);
  EXPECT_EQ(t.per_second(), (std::vector<std::uint64_t>{100, 200, 100, 100, 100}));
  for (int i = 0; i < 400; ++i) t.tick(start + 6s + i * 1s, 600);
  EXPECT_EQ(t.per_second().size(), ThroughputHistory::kSeconds);
  EXPECT_DOUBLE_EQ(t.rate(start + 405s + 500ms, 600, 10), 0.0);
}

TEST(RecentFailures, KeepsTheNewestTwentyAndCutsLongErrors) {
  RecentFailures f;
  Clock::time_point now{};
  for (int i = 0; i < 25; ++i)
    f.add({"id" + std::to_string(i), "fn", "exception", "boom", "w1", 0}, now + i * 1s);
  auto list = f.list(now + 30s);
  ASSERT_EQ(list.size(), RecentFailures::kKept);
  EXPECT_EQ(list.front().id, "id24");
  EXPECT_EQ(list.front().age_ms, 6000u);
  EXPECT_EQ(list.back().id, "id5");
  // 399 ASCII bytes, then a 2-byte character across the cut: dropped whole.
  std::string error(399, 'x');
  error += "\xc3\xa9";
  error += std::string(100, 'y');
  f.add({"long", "fn", "exception", error, "", 0}, now);
  std::string cut = f.list(now).front().error;
  EXPECT_EQ(cut, std::string(399, 'x') + "...");
}

MetricsSnapshot sample_snapshot() {
  MetricsSnapshot s;
  s.status.version = "1.2.3";
  s.status.uptime_ms = 61500;
  s.status.queue = 7;
  s.status.workers.resize(2);
  s.status.workers[0].slots = 4;
  s.status.workers[0].busy = 3;
  s.status.workers[1].slots = 2;
  s.status.workers[1].busy = 1;
  s.status.services.resize(1);
  s.status.bosses = 2;
  s.status.totals.submitted = 100;
  s.status.totals.completed = 90;
  s.status.totals.failed = 5;
  s.status.totals.cancelled = 2;
  s.status.totals.requeued = 1;
  s.status.totals.kept_results = 3;
  s.status.totals.module_bytes = 12345;
  s.status.totals.module_upload_bytes = 23456;
  s.run_time.observe(2ms);
  s.run_time.observe(20ms);
  s.queue_wait.observe(1ms);
  return s;
}

TEST(PrometheusText, IsValidExpositionFormatWithUniNamesHelpTypeAndUnits) {
  std::string text = prometheus_text(sample_snapshot());
  auto families = uni::test::parse_prometheus_text(text);
  ASSERT_FALSE(families.empty());
  for (const auto& [name, f] : families) {
    EXPECT_EQ(name.rfind("uni_", 0), 0u) << name;
    if (f.type == "counter") {
      EXPECT_TRUE(name.ends_with("_total")) << name;
    } else {
      EXPECT_FALSE(name.ends_with("_total")) << name;
    }
    // Units in names, base units only (Prometheus naming practice).
    EXPECT_EQ(name.find("_ms"), std::string::npos) << name;
    EXPECT_EQ(name.find("milli"), std::string::npos) << name;
    if (name.find("bytes") != std::string::npos) {
      EXPECT_TRUE(name.ends_with("_bytes") || name.ends_with("_bytes_total")) << name;
    }
    if (f.type == "histogram") {
      EXPECT_TRUE(name.ends_with("_seconds")) << name;
    }
  }
  // What the metrics must show, with the snapshot's values.
  EXPECT_EQ(families.at("uni_tasks_submitted_total").value(), 100);
  EXPECT_EQ(families.at("uni_tasks_completed_total").value(), 90);
  EXPECT_EQ(families.at("uni_tasks_failed_total").value(), 5);
  EXPECT_EQ(families.at("uni_tasks_requeued_total").value(), 1);
  EXPECT_EQ(families.at("uni_tasks_cancelled_total").value(), 2);
  EXPECT_EQ(families.at("uni_module_uploaded_bytes_total").value(), 23456);
  EXPECT_EQ(families.at("uni_module_store_bytes").value(), 12345);
  EXPECT_EQ(families.at("uni_queue_tasks").value(), 7);
  EXPECT_EQ(families.at("uni_workers").value(), 2);
  EXPECT_EQ(families.at("uni_slots").value(), 6);
  EXPECT_EQ(families.at("uni_slots_busy").value(), 4);
  EXPECT_EQ(families.at("uni_services").value(), 1);
  EXPECT_EQ(families.at("uni_bosses_connected").value(), 2);
  EXPECT_EQ(families.at("uni_kept_results").value(), 3);
  EXPECT_DOUBLE_EQ(families.at("uni_manager_uptime_seconds").value(), 61.5);
  const auto& run = families.at("uni_task_run_seconds");
  EXPECT_EQ(run.type, "histogram");
  EXPECT_EQ(run.value("uni_task_run_seconds_count"), 2);
  EXPECT_NEAR(run.value("uni_task_run_seconds_sum"), 0.022, 1e-12);
  EXPECT_EQ(families.at("uni_task_queue_wait_seconds").value("uni_task_queue_wait_seconds_count"),
            1);
}

TEST(PrometheusText, TheStrictReaderRejectsWhatPrometheusWould) {
  using uni::test::parse_prometheus_text;
  EXPECT_THROW(parse_prometheus_text("uni_x 1\n"), std::runtime_error);  // no TYPE
  EXPECT_THROW(parse_prometheus_text("# HELP uni_x h\n# TYPE uni_x gauge\nuni_x one\n"),
               std::runtime_error);
  EXPECT_THROW(parse_prometheus_text("# HELP uni_x h\n# TYPE uni_x histogram\n"
                                     "uni_x_bucket{le=\"1\"} 2\nuni_x_bucket{le=\"+Inf\"} 1\n"
                                     "uni_x_sum 1\nuni_x_count 1\n"),
               std::runtime_error);
  EXPECT_NO_THROW(parse_prometheus_text("# HELP uni_x h\n# TYPE uni_x gauge\nuni_x 1\n"));
}

}  // namespace
