// testfns: the functions the integration tests call — identity, arithmetic,
// strings, containers, a MSGPACK_DEFINE struct, void, a throwing function,
// output to stdout/stderr and a sleep. Small on purpose: each exists for a test.
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include <uni/module.hpp>

std::int64_t ident(std::int64_t x) { return x; }

int add(int a, int b) { return a + b; }

double scale(double x, double factor) { return x * factor; }

bool negate(bool b) { return !b; }

std::string greet(std::string name) { return "hello, " + name; }

// Throws with a what() the tests look for.
int fail(std::string why) { throw std::runtime_error("boom: " + why); }

int checked_div(int a, int b) {
  if (b == 0) throw std::domain_error("division by zero");
  return a / b;
}

std::vector<int> reversed(std::vector<int> v) { return {v.rbegin(), v.rend()}; }

std::map<std::string, int> count_words(std::vector<std::string> words) {
  std::map<std::string, int> counts;
  for (const auto& w : words) ++counts[w];
  return counts;
}

std::optional<int> half_if_even(int n) {
  if (n % 2 != 0) return std::nullopt;
  return n / 2;
}

std::pair<int, int> divmod(int a, int b) { return {a / b, a % b}; }

std::tuple<int, std::string, double> describe_number(int n) {
  return {n * 2, std::to_string(n), n / 4.0};
}

struct Point {
  int x = 0;
  int y = 0;
  std::string label;
  MSGPACK_DEFINE(x, y, label);
};

Point translate(Point p, int dx, int dy) { return {p.x + dx, p.y + dy, p.label + "'"}; }

// A void function; its effect is only that it ran.
void nothing(int) {}

// Writes `n` numbered lines to stdout and to stderr, for the worker's log.
int chatter(std::string tag, int n) {
  for (int i = 0; i < n; ++i) {
    std::printf("%s out %d\n", tag.c_str(), i);
    std::fprintf(stderr, "%s err %d\n", tag.c_str(), i);
  }
  std::fflush(stdout);
  return n;
}

// A negative duration is an error, so a map can mix slow tasks and failing ones.
int sleep_ms(int ms) {
  if (ms < 0) throw std::invalid_argument("sleep_ms: negative duration " + std::to_string(ms));
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  return ms;
}

// The pid of the process that runs the task.
std::int64_t whoami() { return static_cast<std::int64_t>(::getpid()); }

UNI_EXPORT(ident);
UNI_EXPORT(add);
UNI_EXPORT(scale);
UNI_EXPORT(negate);
UNI_EXPORT(greet);
UNI_EXPORT(fail);
UNI_EXPORT(checked_div);
UNI_EXPORT(reversed);
UNI_EXPORT(count_words);
UNI_EXPORT(half_if_even);
UNI_EXPORT(divmod);
UNI_EXPORT(describe_number);
UNI_EXPORT(translate);
UNI_EXPORT(nothing);
UNI_EXPORT(chatter);
UNI_EXPORT(sleep_ms);
UNI_EXPORT(whoami);
