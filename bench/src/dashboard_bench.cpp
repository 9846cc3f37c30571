// The "dashboard" workload: what serving the dashboard costs the
// manager. Two clusters in the same run, alike but for the manager's --http:
// W1-style throughput (ident tasks submitted without waiting, 2 workers x 1
// slot) alternately on the one without HTTP and on the one with it, while a
// client polls the latter as an open dashboard and a Prometheus scraper
// would: /api/status, /api/history and /metrics once a second. The cost is
// the difference of the medians.
#include <httplib.h>

#include <atomic>
#include <cstdlib>
#include <numeric>
#include <optional>
#include <thread>

#include "bench_ident.hpp"
#include "workloads.hpp"

namespace bench {

namespace {

// Submits ident(0..n-1) without waiting, collects and checks every result:
// tasks per second from the first submit to the last result.
double ident_rate(uni::Cluster& boss, std::size_t n) {
  auto fn = boss.remote(ident);
  std::vector<std::int64_t> inputs(n);
  std::iota(inputs.begin(), inputs.end(), std::int64_t{0});
  Clock::time_point start = Clock::now();
  auto futures = boss.map(fn, inputs);
  for (auto& f : futures) f.wait();
  double seconds = seconds_since(start);
  for (std::size_t i = 0; i < n; ++i)
    if (futures[i].get() != inputs[i]) throw std::runtime_error("ident returned a wrong value");
  return static_cast<double>(n) / seconds;
}

// A dashboard left open plus a scraper: three GETs a second until stopped.
class Poller {
 public:
  explicit Poller(const std::string& url) : client_(url) {
    client_.set_read_timeout(5);
    thread_ = std::thread([this] { run(); });
  }
  ~Poller() {
    stop_ = true;
    thread_.join();
  }
  std::size_t requests() const { return requests_; }
  std::size_t failures() const { return failures_; }

 private:
  void run() {
    while (!stop_) {
      Clock::time_point next = Clock::now() + std::chrono::seconds(1);
      for (const char* path : {"/api/status", "/api/history", "/metrics"}) {
        auto r = client_.Get(path);
        ++requests_;
        if (!r || r->status != 200) ++failures_;
      }
      while (!stop_ && Clock::now() < next)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  httplib::Client client_;
  std::atomic<bool> stop_{false};
  std::atomic<std::size_t> requests_{0}, failures_{0};
  std::thread thread_;
};

}  // namespace

void run_dashboard(const Config& c, const Environment& env, const std::string& isolation) {
  // UNI_BENCH_DASHBOARD_CONTROL=1: both clusters without HTTP and no poller,
  // to see what two alike clusters differ by on this machine (an A/A run).
  const bool control = std::getenv("UNI_BENCH_DASHBOARD_CONTROL") != nullptr;
  LocalCluster off(env, "dashboard-off-" + isolation);
  LocalCluster on(
      env, "dashboard-on-" + isolation,
      control ? std::vector<std::string>{} : std::vector<std::string>{"--http", "127.0.0.1:0"});
  if (!control && on.http_url().empty())
    throw std::runtime_error("the manager printed no dashboard URL");
  for (LocalCluster* cluster : {&off, &on}) {
    cluster->add_workers(2, isolation);
    cluster->wait_workers(2);
    ident_rate(cluster->boss(), 2'000);  // module shipped and loaded on both workers
  }
  std::optional<Poller> poller;
  if (!control) poller.emplace(on.http_url());
  std::this_thread::sleep_for(std::chrono::seconds(2));  // snapshots being published
  std::vector<double> rates_off, rates_on, pair_costs;
  Json runs = Json::array();
  // In adjacent pairs, which goes first alternating, so that the machine's
  // drift (it is shared) falls on both alike.
  for (int r = 0; r < c.repeats; ++r) {
    double a = 0, b = 0;
    if (r % 2 == 0) {
      a = ident_rate(off.boss(), c.dashboard_tasks);
      b = ident_rate(on.boss(), c.dashboard_tasks);
    } else {
      b = ident_rate(on.boss(), c.dashboard_tasks);
      a = ident_rate(off.boss(), c.dashboard_tasks);
    }
    rates_off.push_back(a);
    rates_on.push_back(b);
    pair_costs.push_back(100.0 * (a - b) / a);
    runs.push_back({{"off_per_s", round_to(a, 1)}, {"on_per_s", round_to(b, 1)}});
    note("dashboard %s run %d/%d: %.0f tasks/s without HTTP, %.0f with (%d requests so far)",
         isolation.c_str(), r + 1, c.repeats, a, b,
         static_cast<int>(poller ? poller->requests() : 0));
  }
  double a = median(rates_off), b = median(rates_on);
  double cost = a > 0 ? 100.0 * (a - b) / a : 0;
  emit(Json{{"workload", "dashboard"},
            {"isolation", isolation},
            {"tasks", c.dashboard_tasks},
            {"workers", 2},
            {"slots", 1},
            {"off_per_s", round_to(a, 1)},
            {"on_per_s", round_to(b, 1)},
            {"cost_percent", round_to(cost, 2)},
            {"paired_cost_percent", round_to(median(pair_costs), 2)},
            {"control", control},
            {"http_requests", poller ? poller->requests() : 0},
            {"http_failures", poller ? poller->failures() : 0},
            {"poll", "GET /api/status, /api/history, /metrics once a second"},
            {"target", {{"cost_percent_max", 2.0}, {"met", cost < 2.0}}},
            {"repeats", c.repeats},
            {"runs", runs}});
  if (poller && poller->failures() > 0)
    throw std::runtime_error(std::to_string(poller->failures()) + " HTTP requests failed");
}

}  // namespace bench
