// A local cluster of real processes for one part of the suite: `uni manager`
// on an ephemeral port and `uni worker`s connected to it, each with its log in
// the bench's temp dir, plus the bench's boss connection (the C++ API).
// Everything is killed and reaped when the LocalCluster goes (also on errors),
// and by a signal handler if the bench is interrupted.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <uni/uni.hpp>

#include "common/process.hpp"
#include "util.hpp"

namespace bench {

// Where things are: the `uni` binary next to uni-bench, the modules, the
// bench's private temp dir (UNI_CONFIG_DIR and XDG_CACHE_HOME point into it).
struct Environment {
  std::string uni;         // path of the uni binary
  std::string module_dir;  // lib<name>.so of the bench modules
  std::string temp;        // private temp dir, removed at exit unless kept
  std::string authkey;     // random per run
  bool keep_temp = false;

  // Finds the binaries, creates the temp dir, sets the environment variables.
  static Environment setup(bool keep_temp);
  void cleanup() const;
};

// Kills every child still registered (SIGKILL); safe in a signal handler.
void kill_all_children();
// SIGINT/SIGTERM/SIGHUP: kill the children, remove nothing, exit 130.
void install_signal_handlers();

// Resident set size of a process (VmRSS), bytes; 0 if unreadable.
std::uint64_t rss_bytes(pid_t pid);

class LocalCluster {
 public:
  // Starts the manager and connects the boss. `name` labels the log directory;
  // `manager_args` are extra flags for `uni manager` (e.g. --http).
  LocalCluster(const Environment& env, const std::string& name,
               const std::vector<std::string>& manager_args = {});
  // No manager: the workers and the boss use the NATS cluster at
  // `nats_address` ("nats://...", uni-bench --broker nats).
  struct Nats {
    std::string address;
  };
  LocalCluster(const Environment& env, const std::string& name, const Nats& nats);
  ~LocalCluster();
  LocalCluster(const LocalCluster&) = delete;
  LocalCluster& operator=(const LocalCluster&) = delete;

  // Starts `count` workers (`--slots 1 --isolation ISOLATION`) and waits until
  // the manager lists `expected_total` workers.
  void add_workers(int count, const std::string& isolation);
  void wait_workers(std::size_t expected_total,
                    std::chrono::seconds timeout = std::chrono::seconds(60));

  uni::Cluster& boss() { return *boss_; }
  const std::string& address() const { return address_; }
  // The manager's "dashboard on URL/" (with --http), without the slash; else empty.
  const std::string& http_url() const { return http_url_; }
  pid_t manager_pid() const { return manager_.pid(); }
  std::size_t worker_count() const { return workers_.size(); }

  // `uni status --json`, through the CLI (it has the totals the C++ API's
  // Cluster::status() does not expose).
  Json status_json();

  // The last lines of every log of this cluster, for error messages.
  std::string log_tails() const;

 private:
  uni::Process spawn(std::vector<std::string> argv, const std::string& log_name,
                     const std::string& out_name = "");
  void check_alive();

  // Unregisters the children from the signal handler's list when the cluster goes.
  struct Pids {
    std::vector<pid_t> pids;
    ~Pids();
  };

  const Environment& env_;
  std::string dir_;
  Pids pids_;
  std::string address_;
  std::string http_url_;
  uni::Process manager_;
  std::vector<uni::Process> workers_;
  std::optional<uni::Cluster> boss_;
  std::vector<std::string> logs_;
};

}  // namespace bench
