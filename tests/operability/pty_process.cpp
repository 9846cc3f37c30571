// PtyProcess over forkpty(3) (see pty_process.hpp).
#include "pty_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <stdexcept>
#include <thread>

namespace uni::test {

PtyProcess::PtyProcess(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                       std::optional<std::string> stdout_file) {
  // Prepared before fork: the child only calls async-signal-safe functions.
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::vector<std::string> environment;
  for (char** e = environ; *e; ++e) environment.emplace_back(*e);
  for (const std::string& e : env) {
    std::string name = e.substr(0, e.find('='));
    std::erase_if(environment, [&](const std::string& x) { return x.rfind(name + "=", 0) == 0; });
    environment.push_back(e);
  }
  std::vector<char*> envp;
  for (std::string& e : environment) envp.push_back(e.data());
  envp.push_back(nullptr);
  int out_fd = -1;
  if (stdout_file) {
    out_fd = ::open(stdout_file->c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out_fd < 0) throw std::runtime_error("cannot create " + *stdout_file);
  }
  winsize size{};
  size.ws_row = 40;
  size.ws_col = 160;
  pid_ = ::forkpty(&master_, nullptr, nullptr, &size);
  if (pid_ < 0) throw std::runtime_error("forkpty failed");
  if (pid_ == 0) {
    if (out_fd >= 0) ::dup2(out_fd, STDOUT_FILENO);
    ::execve(args[0], args.data(), envp.data());
    ::_exit(127);
  }
  if (out_fd >= 0) ::close(out_fd);
}

PtyProcess::~PtyProcess() {
  if (!reaped_ && pid_ > 0) {
    ::kill(-pid_, SIGKILL);  // forkpty made it a session (and group) leader
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  if (master_ >= 0) ::close(master_);
}

bool PtyProcess::read_some(std::chrono::steady_clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  pollfd p{master_, POLLIN, 0};
  int n = ::poll(&p, 1, static_cast<int>(std::max<long>(0, std::min<long>(left.count(), 200))));
  if (n <= 0) return n == 0 || errno == EINTR;
  char buffer[4096];
  ssize_t got = ::read(master_, buffer, sizeof(buffer));
  if (got <= 0) return false;  // EIO: every end of the terminal is closed
  output_.append(buffer, static_cast<std::size_t>(got));
  return true;
}

void PtyProcess::signal(int sig) {
  if (!reaped_) ::kill(pid_, sig);
}

std::optional<int> PtyProcess::wait(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      reaped_ = true;
      while (read_some(std::chrono::steady_clock::now())) {
        pollfd p{master_, POLLIN, 0};
        if (::poll(&p, 1, 0) <= 0) break;
      }
      if (WIFEXITED(status)) return WEXITSTATUS(status);
      return std::nullopt;
    }
    if (!read_some(
            std::min(deadline, std::chrono::steady_clock::now() + std::chrono::milliseconds(50))))
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return std::nullopt;
}

}  // namespace uni::test
