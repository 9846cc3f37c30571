// Real `uni` processes on a NATS cluster for the tests of the wired NATS
// broker: workers (`uni worker --connect nats://...`, no manager) and CLI
// commands, each with a private config and cache dir and the UNI_NATS_*
// settings of the test (replicas, a short ack-wait).
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "child_process.hpp"
#include "nats_server.hpp"
#include "temp_dir.hpp"
#include "test_cluster.hpp"

namespace uni::test {

class UniOnNats {
 public:
  // `settings`: extra NAME=VALUE for every process (UNI_NATS_REPLICAS=3 ...).
  UniOnNats(std::string address, std::vector<std::string> settings = {})
      : address_(std::move(address)), dir_("uni-nats") {
    env_ = {"UNI_CONFIG_DIR=" + (dir_ / "config").string(),
            "XDG_CACHE_HOME=" + (dir_ / "cache").string()};
    env_.insert(env_.end(), settings.begin(), settings.end());
  }

  const std::string& address() const { return address_; }
  const TempDir& dir() const { return dir_; }

  // A worker, started and registered (it logged its connection).
  ChildProcess worker(int slots = 2, const std::string& name = "worker",
                      const std::vector<std::string>& extra = {}) {
    std::vector<std::string> argv = {uni_binary(), "worker",  "--connect",
                                     address_,     "--slots", std::to_string(slots)};
    argv.insert(argv.end(), extra.begin(), extra.end());
    ChildProcess p = start(argv, name);
    if (!p.wait_for_stderr("connected to the NATS cluster", std::chrono::seconds(90)))
      throw std::runtime_error("the worker did not connect: " + p.read_stderr());
    return p;
  }

  // `uni ARGS...` with --connect given, optionally fed `input` on stdin.
  ChildProcess start_cli(std::vector<std::string> args, std::optional<std::string> input = {},
                         const std::string& name = "cli") {
    std::vector<std::string> argv = {uni_binary()};
    argv.push_back(args.at(0));
    argv.push_back("--connect");
    argv.push_back(address_);
    argv.insert(argv.end(), args.begin() + 1, args.end());
    return start(argv, name, std::move(input));
  }

  struct Outcome {
    ExitStatus status;
    std::string out, err;
  };
  // Runs `uni ARGS...` to its end (killed after `timeout`).
  Outcome cli(std::vector<std::string> args, std::optional<std::string> input = {},
              std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
    ChildProcess p = start_cli(std::move(args), std::move(input));
    std::optional<ExitStatus> status = p.wait_for(timeout);
    if (!status) {
      p.kill();
      status = p.wait_for(std::chrono::seconds(5));
      return {ExitStatus{true, SIGKILL}, p.read_stdout(), p.read_stderr() + " (timed out)"};
    }
    return {*status, p.read_stdout(), p.read_stderr()};
  }

 private:
  ChildProcess start(std::vector<std::string> argv, const std::string& name,
                     std::optional<std::string> input = {}) {
    ChildOptions options;
    options.argv = std::move(argv);
    options.env = env_;
    options.output_dir = dir_.path();
    options.name = name;
    options.stdin_text = std::move(input);
    return ChildProcess::start(options);
  }

  std::string address_;
  TempDir dir_;
  std::vector<std::string> env_;
};

// "[1,0]\n[2,0]\n..." for slow_ident(i, ms), and the output a map of it prints.
inline std::string slow_ident_input(int count, int ms) {
  std::string text;
  for (int i = 1; i <= count; ++i)
    text += "[" + std::to_string(i) + "," + std::to_string(ms) + "]\n";
  return text;
}

inline std::size_t count_lines(const std::string& text) {
  return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
}

// Whether `out` is exactly "1\n2\n...count\n": every result once, in order.
inline ::testing::AssertionResult results_in_order(const std::string& out, int count) {
  std::size_t pos = 0;
  for (int i = 1; i <= count; ++i) {
    std::size_t end = out.find('\n', pos);
    if (end == std::string::npos)
      return ::testing::AssertionFailure() << "only " << i - 1 << " of " << count << " results";
    std::string line = out.substr(pos, end - pos);
    if (line != std::to_string(i))
      return ::testing::AssertionFailure() << "result " << i << " is '" << line << "'";
    pos = end + 1;
  }
  if (pos != out.size())
    return ::testing::AssertionFailure() << "more output after " << count << " results";
  return ::testing::AssertionSuccess();
}

}  // namespace uni::test
