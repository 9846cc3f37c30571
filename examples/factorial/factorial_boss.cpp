// The factorial boss: computes n! for 1..9 (or the n given on the command
// line) on the cluster and prints, for each, which process computed it.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <uni/uni.hpp>

#include "factorial.hpp"

int main(int argc, char** argv) {
  CLI::App app{"factorial_boss: factorials computed by uni workers"};
  std::string connect, authkey, authkey_file;
  std::vector<int> numbers;
  app.add_option("--connect", connect, "manager address")->envname("UNI_CONNECT");
  app.add_option("--authkey", authkey,
                 "shared secret (default: $UNI_AUTHKEY or ~/.config/uni/authkey)");
  app.add_option("--authkey-file", authkey_file, "file holding the shared secret");
  app.add_option("N", numbers, "numbers 0..20 (default: 1..9)")->check(CLI::Range(0, 20));
  CLI11_PARSE(app, argc, argv);
  if (numbers.empty())
    for (int n = 1; n <= 9; ++n) numbers.push_back(n);

  try {
    uni::ConnectOptions options;
    options.authkey = authkey;
    options.authkey_file = authkey_file;
    uni::Cluster cluster = uni::connect(connect, options);
    auto remote_factorial = cluster.remote(factorial);
    // All tasks go out before the first result is awaited.
    std::vector<uni::Future<std::uint64_t>> results = cluster.map(remote_factorial, numbers);
    for (std::size_t i = 0; i < numbers.size(); ++i) {
      std::uint64_t value = results[i].get();
      uni::WorkerInfo w = results[i].worker();
      std::printf("%2d! = %-20llu computed by pid %u (worker %s on %s)\n", numbers[i],
                  static_cast<unsigned long long>(value), w.pid, w.id.c_str(), w.host.c_str());
    }
  } catch (const uni::ConnectError& e) {
    std::fprintf(stderr, "factorial_boss: %s\n", e.what());
    return 3;
  } catch (const uni::Error& e) {
    std::fprintf(stderr, "factorial_boss: %s\n", e.what());
    return 1;
  }
  return 0;
}
