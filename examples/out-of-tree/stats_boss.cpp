// The stats boss: summarises 1..k for k = 1..N (N from the command line,
// default 5) on the cluster named by UNI_CONNECT (authkey from UNI_AUTHKEY or
// ~/.config/uni/authkey), then shows a task's exception coming back as
// uni::TaskError. Built against the installed uni package only.
#include <cstdio>
#include <cstdlib>
#include <numeric>
#include <vector>

#include <uni/uni.hpp>

#include "stats.hpp"

int main(int argc, char** argv) {
  const int n = argc > 1 ? std::atoi(argv[1]) : 5;
  if (n < 1) {
    std::fprintf(stderr, "usage: stats_boss [N >= 1]\n");
    return 2;
  }
  try {
    uni::Cluster cluster = uni::connect();
    auto remote_summarize = cluster.remote(summarize);
    std::vector<std::vector<std::int64_t>> inputs;
    for (int k = 1; k <= n; ++k) {
      inputs.emplace_back(k);
      std::iota(inputs.back().begin(), inputs.back().end(), 1);
    }
    // All tasks go out before the first result is awaited.
    std::vector<uni::Future<Summary>> results = cluster.map(remote_summarize, inputs);
    for (int k = 1; k <= n; ++k) {
      const Summary s = results[k - 1].get();
      std::printf("summarize(1..%d): count %lld sum %lld min %lld max %lld pid %u\n", k,
                  static_cast<long long>(s.count), static_cast<long long>(s.sum),
                  static_cast<long long>(s.min), static_cast<long long>(s.max),
                  results[k - 1].worker().pid);
    }
    try {
      remote_summarize(std::vector<std::int64_t>{}).get();
      std::fprintf(stderr, "stats_boss: summarize of no values did not fail\n");
      return 1;
    } catch (const uni::TaskError& e) {
      std::printf("summarize(): task error: %s\n", e.what());
    }
  } catch (const uni::Error& e) {
    std::fprintf(stderr, "stats_boss: %s\n", e.what());
    return 1;
  }
  return 0;
}
