// PtyProcess: a real process whose terminal is a pseudo-terminal the test
// reads, for what a command does only on a terminal (`uni map`'s progress
// line, `uni status --watch`). Its stdout can go to a file instead, so that
// results and terminal output stay apart. The process leads a session of its
// own; the destructor kills that process group and reaps it.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace uni::test {

class PtyProcess {
 public:
  // `env`: NAME=VALUE added to this process's environment. `stdout_file`:
  // if set, stdout goes there and only stderr (and stdin) to the terminal.
  PtyProcess(const std::vector<std::string>& argv, const std::vector<std::string>& env,
             std::optional<std::string> stdout_file = std::nullopt);
  ~PtyProcess();
  PtyProcess(const PtyProcess&) = delete;
  PtyProcess& operator=(const PtyProcess&) = delete;

  // Reads the terminal until `predicate(output so far)` holds or `timeout`
  // passes (or the process closes the terminal); returns the predicate's value.
  template <class P>
  bool read_until(P predicate, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!predicate(output_)) {
      if (std::chrono::steady_clock::now() >= deadline || !read_some(deadline))
        return predicate(output_);
    }
    return true;
  }
  // Everything read from the terminal so far.
  const std::string& output() const { return output_; }
  void signal(int sig);
  // Reads the rest and waits for the exit; the exit code, or nullopt if it
  // did not end within `timeout` (or died of a signal).
  std::optional<int> wait(std::chrono::milliseconds timeout);

 private:
  bool read_some(std::chrono::steady_clock::time_point deadline);

  pid_t pid_ = -1;
  int master_ = -1;
  bool reaped_ = false;
  std::string output_;
};

}  // namespace uni::test
