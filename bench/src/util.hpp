// Small helpers of uni-bench: clocks, statistics, progress output, JSON lines.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace bench {

using Clock = std::chrono::steady_clock;
using Json = nlohmann::ordered_json;

inline double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}
inline double ms_since(Clock::time_point start) { return 1000.0 * seconds_since(start); }
inline double us_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::micro>(b - a).count();
}

// The value at quantile q (0..1) of the samples, nearest rank.
inline double quantile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  std::size_t rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(v.size())));
  rank = std::clamp<std::size_t>(rank, 1, v.size());
  return v[rank - 1];
}
inline double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  std::size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// Rounds for output: figures are not precise beyond this.
inline double round_to(double v, int decimals) {
  double f = std::pow(10.0, decimals);
  return std::round(v * f) / f;
}

// Progress and logs: stderr, so that stdout stays pure JSON lines.
template <class... A>
void note(const char* format, A&&... args) {
  std::fprintf(stderr, "[uni-bench] ");
  if constexpr (sizeof...(A) == 0) std::fputs(format, stderr);
  else std::fprintf(stderr, format, std::forward<A>(args)...);
  std::fputc('\n', stderr);
  std::fflush(stderr);
}

// The 1-minute load average: how busy the (shared) machine was.
inline double load_average() {
  double load = -1;
  if (FILE* f = std::fopen("/proc/loadavg", "r")) {
    if (std::fscanf(f, "%lf", &load) != 1) load = -1;
    std::fclose(f);
  }
  return load;
}

// One result: one JSON object on one line of stdout, with the machine's load.
// The broker the lines emitted now were measured on ("manager", "nats-1",
// "nats-3"); set by main around each part of the run.
inline std::string& current_broker() {
  static std::string broker = "manager";
  return broker;
}

inline void emit(Json line) {
  line["broker"] = current_broker();
  line["loadavg_1m"] = load_average();
  std::printf("%s\n", line.dump().c_str());
  std::fflush(stdout);
}

}  // namespace bench
