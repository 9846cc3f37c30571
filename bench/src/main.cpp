// uni-bench: the benchmark suite.
//
//   uni-bench [--quick] [--workload W1,W2,W3,W4,memory,workers200] [--isolation process,thread]
//
// Starts its own clusters (real `uni manager` and `uni worker` processes from
// this binary's directory), runs the workloads, and prints one JSON object per
// line on stdout, each with its figures, the raw ZeroMQ CURVE baseline of the
// same run and their ratio. Progress goes to stderr.
#include <CLI/CLI.hpp>
#include <set>

#include "become_bench.hpp"
#include "cluster.hpp"
#include "common/log.hpp"
#include "workloads.hpp"
#ifdef UNI_BENCH_NATS
#include <cstdlib>

#include "nats_server.hpp"
#endif

namespace {

const std::vector<std::string> kWorkloads = {"W1",     "W2",         "W3",        "W4",
                                             "memory", "workers200", "dashboard", "become"};
const std::vector<std::string> kIsolations = {"process", "thread"};
// "nats" is both NATS parts: nats-1 (one server) and nats-3 (three nodes, R3).
const std::vector<std::string> kBrokers = {"manager", "nats", "nats-1", "nats-3"};

std::vector<std::string> split_list(const std::vector<std::string>& given,
                                    const std::vector<std::string>& all, const char* what) {
  std::vector<std::string> out;
  for (const std::string& item : given) {
    std::stringstream ss(item);
    for (std::string part; std::getline(ss, part, ',');) {
      if (part.empty()) continue;
      if (part == "all") return all;
      auto it = std::find_if(all.begin(), all.end(), [&](const std::string& a) {
        return std::equal(a.begin(), a.end(), part.begin(), part.end(),
                          [](char x, char y) { return std::tolower(x) == std::tolower(y); });
      });
      if (it == all.end()) throw CLI::ValidationError(what, "unknown: " + part);
      if (std::find(out.begin(), out.end(), *it) == out.end()) out.push_back(*it);
    }
  }
  return out.empty() ? all : out;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"uni-bench: uni's benchmark suite; one JSON object per line on stdout"};
  bool quick = false, keep = false;
  int repeats = 0;
  std::vector<std::string> workload_flags, isolation_flags, broker_flags = {"manager"};
  app.add_flag("--quick", quick, "reduced sizes, every workload (under a minute)");
  app.add_option("--workload", workload_flags,
                 "W1, W2, W3, W4, memory, workers200, dashboard, become (repeatable or comma list; "
                 "default all)");
  app.add_option("--isolation", isolation_flags,
                 "process, thread (repeatable or comma list; default both)");
  app.add_option("--repeat", repeats,
                 "runs per figure, the median is reported (default 5, 3 with --quick)");
  app.add_flag("--keep-temp", keep, "keep the temp dir with the cluster logs");
  app.add_option(
      "--broker", broker_flags,
      "manager, nats, nats-1, nats-3 (comma list; default manager): nats-1 runs W1-W3 on "
      "one local nats-server (W2 under each --isolation, the rest under process), nats-3 W1 "
      "and W2 on a 3-node cluster with 3 replicas, nats both");
  std::vector<std::string> workloads, isolations, brokers;
  try {
    app.parse(argc, argv);
    workloads = split_list(workload_flags, kWorkloads, "--workload");
    isolations = split_list(isolation_flags, kIsolations, "--isolation");
    brokers = split_list(broker_flags, kBrokers, "--broker");
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);  // prints help or the error
    return code == 0 ? 0 : 2;
  }
  bench::Config config = quick ? bench::Config::reduced() : bench::Config::full();
  if (repeats > 0) config.repeats = repeats;
  auto wants = [&](const char* w) {
    return std::find(workloads.begin(), workloads.end(), w) != workloads.end();
  };

  uni::log::setup("uni-bench", "warn");
  bench::install_signal_handlers();
  bench::Environment env;
  try {
    env = bench::Environment::setup(keep);
  } catch (const std::exception& e) {
    bench::note("cannot set up: %s", e.what());
    return 2;
  }

  bench::Clock::time_point start = bench::Clock::now();
  bench::note("%s run: workloads %s, isolation %s; temp dir %s", quick ? "quick" : "full",
              CLI::detail::join(workloads, ",").c_str(), CLI::detail::join(isolations, ",").c_str(),
              env.temp.c_str());
  int failures = 0;
  bool w3_pending = false;         // running W3's first phase: its line comes with the second
  std::set<std::string> reported;  // workload/isolation pairs that have their line
  auto report_error = [&](const std::string& workload, const std::string& isolation,
                          const std::string& what) {
    if (!reported.insert(workload + "/" + isolation).second) return;
    ++failures;
    bench::note("%s %s FAILED: %s", workload.c_str(), isolation.c_str(), what.c_str());
    bench::emit(bench::Json{{"workload", workload}, {"isolation", isolation}, {"error", what}});
  };
  // Runs one workload; a failure is reported and the suite goes on.
  auto attempt = [&](const std::string& workload, const std::string& isolation,
                     const std::function<void()>& f) {
    if (!wants(workload.c_str())) return;
    try {
      bench::Clock::time_point t0 = bench::Clock::now();
      f();
      bench::note("%s %s done in %.1f s", workload.c_str(), isolation.c_str(),
                  bench::seconds_since(t0));
      if (workload != "W3" || !w3_pending) reported.insert(workload + "/" + isolation);
    } catch (const std::exception& e) {
      report_error(workload, isolation, e.what());
    }
  };

  bench::Shared shared;
  const bool on_manager = std::find(brokers.begin(), brokers.end(), "manager") != brokers.end();
  for (const std::string& iso : isolations) {
    if (!on_manager) break;
    if (!wants("W1") && !wants("W2") && !wants("W3") && !wants("W4")) break;
    try {
      // One cluster per isolation mode: one worker for W2, W4 and W3's first
      // phase, then a second worker for W3's second phase and W1.
      bench::note("starting a cluster: manager + 1 worker (%s isolation)", iso.c_str());
      bench::LocalCluster cluster(env, "cluster-" + iso);
      cluster.add_workers(1, iso);
      attempt("W2", iso, [&] { bench::run_w2(config, cluster, iso); });
      attempt("W4", iso, [&] { bench::run_w4(config, env, cluster, iso); });
      std::optional<bench::W3Partial> w3;
      w3_pending = true;
      attempt("W3", iso, [&] { w3 = bench::run_w3_one_worker(config, cluster); });
      w3_pending = false;
      if (wants("W1") || w3) {
        bench::note("adding a second worker (%s isolation)", iso.c_str());
        cluster.add_workers(1, iso);
      }
      if (w3) attempt("W3", iso, [&] { bench::run_w3_two_workers(config, cluster, iso, *w3); });
      attempt("W1", iso, [&] { bench::run_w1(config, cluster, iso, shared); });
    } catch (const std::exception& e) {
      for (const char* w : {"W1", "W2", "W3", "W4"})
        if (wants(w)) report_error(w, iso, std::string("cluster: ") + e.what());
    }
  }
#ifdef UNI_BENCH_NATS
  auto on_nats = [&](int nodes) {
    auto has = [&](const char* b) {
      return std::find(brokers.begin(), brokers.end(), b) != brokers.end();
    };
    return has("nats") || has(nodes == 1 ? "nats-1" : "nats-3");
  };
  if (on_nats(1) || on_nats(3)) {
    // The same workloads with no manager: one nats-server (R1), then W1 and W2 on a
    // 3-node cluster with every stream replicated three times. W4 needs the
    // manager's module totals and is not run on NATS.
    for (int nodes : {1, 3}) {
      if (!on_nats(nodes)) continue;
      if (nodes == 3 && !wants("W1") && !wants("W2")) break;
      bench::current_broker() = "nats-" + std::to_string(nodes);
      ::setenv("UNI_NATS_REPLICAS", nodes == 3 ? "3" : "1", 1);
      try {
        bench::note("starting %d nats-server node(s)", nodes);
        uni::test::NatsCluster nats(nodes);
        nats.wait_jetstream_ready();
        reported.clear();
        if (nodes == 1 && wants("W2") &&
            std::find(isolations.begin(), isolations.end(), "thread") != isolations.end()) {
          // W2 under thread isolation too, on a worker of its own (one at a
          // time: workers of one platform share the task queue).
          bench::note("starting a worker (thread isolation) on nats-1");
          bench::LocalCluster threads(env, "nats-1-thread",
                                      bench::LocalCluster::Nats{nats.address()});
          threads.add_workers(1, "thread");
          attempt("W2", "thread", [&] { bench::run_w2(config, threads, "thread"); });
        }
        const std::string iso = "process";
        bench::LocalCluster cluster(env, "nats-" + std::to_string(nodes),
                                    bench::LocalCluster::Nats{nats.address()});
        cluster.add_workers(1, iso);
        if (nodes == 1) {
          attempt("W2", iso, [&] { bench::run_w2(config, cluster, iso); });
          std::optional<bench::W3Partial> w3;
          w3_pending = true;
          attempt("W3", iso, [&] { w3 = bench::run_w3_one_worker(config, cluster); });
          w3_pending = false;
          cluster.add_workers(1, iso);
          if (w3) attempt("W3", iso, [&] { bench::run_w3_two_workers(config, cluster, iso, *w3); });
        } else {
          // The target for three replicas: W2 p50 <= 2.5 ms.
          attempt("W2", iso, [&] { bench::run_w2(config, cluster, iso); });
          cluster.add_workers(1, iso);
        }
        bench::Shared nats_shared;
        attempt("W1", iso, [&] { bench::run_w1(config, cluster, iso, nats_shared); });
      } catch (const std::exception& e) {
        report_error("W1", "process", std::string("nats cluster: ") + e.what());
      }
    }
    bench::current_broker() = "manager";
  }
#endif
  if (on_manager) {
    attempt("memory", "none", [&] { bench::run_memory(config, env); });
    attempt("workers200", "simulated", [&] { bench::run_workers200(config, env, shared); });
    for (const std::string& iso : isolations)
      attempt("dashboard", iso, [&] { bench::run_dashboard(config, env, iso); });
    attempt("become", "process", [&] {
      bench::LocalCluster cluster(env, "cluster-become");
      cluster.add_workers(1, "process");
      bench::run_become(config, env, cluster);
    });
  }

  bench::note("finished in %.1f s, %d failure(s)", bench::seconds_since(start), failures);
  env.cleanup();
  return failures == 0 ? 0 : 1;
}
