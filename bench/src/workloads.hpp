// The workloads of uni-bench (bench/README.md says what each measures).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "cluster.hpp"

namespace bench {

struct Config {
  bool quick = false;
  int repeats = 5;  // W1, W2, W3, workers200: runs per figure (median)
  std::size_t baseline_messages = 30'000;
  std::size_t w1_tasks = 10'000;
  std::size_t w2_round_trips = 2'000;
  std::size_t w2_warmup = 200;
  std::int64_t w3_limit = 2'000'000;
  int w3_tasks = 16;
  int w4_samples = 5;
  std::size_t memory_tasks = 1'000'000;
  std::size_t sim_workers = 200;
  std::uint32_t sim_capacity = 2;  // credit of each simulated worker: 1 slot + 1 prefetched
  std::size_t sim_tasks = 20'000;
  std::size_t dashboard_tasks = 100'000;  // per sample: a few polls fall in each

  static Config full();
  static Config reduced();  // --quick
};

// Figures one workload leaves for another of the same run.
struct Shared {
  std::optional<double> w1_thread_per_s;
};

// Each emits one JSON line; throws on a failure (the caller reports it).
void run_w1(const Config& c, LocalCluster& cluster, const std::string& isolation, Shared& shared);
void run_w2(const Config& c, LocalCluster& cluster, const std::string& isolation);
void run_w4(const Config& c, const Environment& env, LocalCluster& cluster,
            const std::string& isolation);

// W3 needs 1 and then 2 workers: phase one runs with the cluster's single
// worker, phase two after the caller added the second.
struct W3Partial {
  std::vector<double> wall_1, reference_2;
  std::vector<std::int64_t> range_counts;  // per range, from the in-process reference
  std::int64_t total = 0;
  double reference_1_thread_ms = 0;
  bool counts_ok = true;
};
W3Partial run_w3_one_worker(const Config& c, LocalCluster& cluster);
void run_w3_two_workers(const Config& c, LocalCluster& cluster, const std::string& isolation,
                        W3Partial& partial);

void run_memory(const Config& c, const Environment& env);
void run_workers200(const Config& c, const Environment& env, const Shared& shared);
// W1 with the manager's HTTP server polled vs without, same run (dashboard_bench.cpp).
void run_dashboard(const Config& c, const Environment& env, const std::string& isolation);

}  // namespace bench
