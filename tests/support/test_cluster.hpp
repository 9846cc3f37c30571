// TestCluster: a real uni cluster for one test — a `uni manager` on an
// ephemeral loopback port and N `uni worker` processes, all in a private temp
// dir (UNI_CONFIG_DIR and XDG_CACHE_HOME point into it, so nothing touches the
// user's ~/.config or ~/.cache) with an explicit authkey. Readiness (a worker
// has joined) is asked through the C++ API, not by spawning `uni status`. It runs CLI commands
// and other programs against the cluster with timeouts, and offers the fault
// injection later tests need: kill -9 of any process, start more workers,
// stop and restart the manager on the same address. Everything it started is
// killed when it goes away, also when the test fails.
#pragma once

#include <chrono>
#include <deque>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <uni/uni.hpp>

#include "child_process.hpp"
#include "temp_dir.hpp"

namespace uni::test {

// Whether `text` contains `part` (what most assertions on output ask).
inline bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Paths of this build's artefacts (compile definitions set by CMake).
std::string bin_path(const std::string& program);  // e.g. "uni", "factorial_boss"
std::string uni_binary();
std::string module_path(const std::string& name);  // "factorial" -> .../modules/libfactorial.so

struct CommandResult {
  std::vector<std::string> argv;
  int exit_code = -1;  // -1 when killed by a signal or timed out
  bool timed_out = false;
  std::string out, err;
  std::chrono::milliseconds elapsed{0};

  std::vector<std::string> lines() const;  // stdout, one entry per line
  // The command, its exit code, stdout and stderr, for assertion messages.
  std::string describe() const;
};

struct CommandOptions {
  // Past this the command is killed and the test fails (never hangs).
  std::chrono::milliseconds timeout{30000};
  std::optional<std::string> stdin_text;  // else stdin is /dev/null
  std::vector<std::string> env;           // NAME=VALUE, overriding the cluster's
  bool cluster_env = true;                // set UNI_CONNECT and UNI_AUTHKEY
};

struct ClusterOptions {
  int workers = 1;
  unsigned slots = 2;
  std::vector<std::string> worker_args;   // extra flags for each initial worker
  std::vector<std::string> manager_args;  // extra flags for the manager
  // Empty: the harness's shared test authkey, whose derived keys are made
  // once per build tree and copied into the cluster's config dir.
  std::string authkey;
  // >= 0: run `uni up --workers N --slots S` (manager and its own workers in
  // one process tree) instead of `uni manager`; `workers` then adds more.
  int up_workers = -1;
  // Client keys to make with `uni keygen` before the manager starts, as
  // {NAME, ROLE}. Not empty: a keyed cluster — the manager admits only these
  // (`--clients`), plus the harness's own admin key `harness` (its status
  // checks and commands) and worker key `harness-worker` (workers started
  // without a --key of their own); nobody connects with the authkey.
  std::vector<std::pair<std::string, std::string>> keys;
  // NAME=VALUE for every process of the cluster (manager, workers, commands).
  std::vector<std::string> env;
};

// `base` with each NAME=VALUE of `extra` added, replacing an entry of the same
// NAME (uni::Process passes duplicates through, and getenv takes the first).
std::vector<std::string> merge_env(std::vector<std::string> base,
                                   const std::vector<std::string>& extra);

// Runs `argv` to its end with `env` (then options.env) over the inherited
// environment, its output in files under `output_dir`; a timeout kills it
// and fails the test. options.cluster_env is the caller's to apply.
CommandResult run_command(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                          const std::filesystem::path& output_dir, const CommandOptions& options);

class TestCluster {
 public:
  explicit TestCluster(ClusterOptions options = {});
  ~TestCluster();
  TestCluster(const TestCluster&) = delete;
  TestCluster& operator=(const TestCluster&) = delete;

  const std::string& address() const { return address_; }  // tcp://127.0.0.1:PORT
  const std::string& authkey() const { return options_.authkey; }
  bool keyed() const { return !options_.keys.empty(); }
  // A keyed cluster's key NAME: its .secret file, and its .pub line's file.
  std::filesystem::path key_file(const std::string& name) const;
  std::filesystem::path clients_file() const { return dir_ / "keys" / "clients"; }
  const TempDir& dir() const { return dir_; }
  std::filesystem::path config_dir() const { return dir_ / "config"; }
  std::filesystem::path cache_home() const { return dir_ / "cache"; }  // XDG_CACHE_HOME
  std::filesystem::path module_cache_dir() const { return cache_home() / "uni" / "modules"; }
  // UNI_CONFIG_DIR and XDG_CACHE_HOME, as every process of the cluster gets them.
  std::vector<std::string> base_env() const;

  ChildProcess& manager() { return manager_; }
  std::size_t worker_count() const { return workers_.size(); }
  ChildProcess& worker(std::size_t i) { return workers_.at(i); }

  // Starts another worker (`uni worker --connect ADDR --authkey K --slots N
  // EXTRA...`); with `wait`, returns once `uni status` lists it.
  ChildProcess& add_worker(unsigned slots, const std::vector<std::string>& extra = {},
                           bool wait = true);
  // Waits until `uni status` lists a worker whose supervisor has this pid.
  // Fails the test (ADD_FAILURE) and returns false on timeout.
  bool wait_for_worker(pid_t pid, std::chrono::milliseconds timeout = std::chrono::seconds(20));
  // Waits until `uni status` lists exactly `count` workers.
  bool wait_for_worker_count(std::size_t count,
                             std::chrono::milliseconds timeout = std::chrono::seconds(20));

  void kill_worker(std::size_t i, int sig = SIGKILL) { workers_.at(i).kill(sig); }
  void kill_manager(int sig = SIGKILL) { manager_.kill(sig); }
  // SIGTERM to the manager; waits for it to end (SIGKILL after `grace`).
  ExitStatus stop_manager(std::chrono::milliseconds grace = std::chrono::seconds(5));
  // Starts a new manager on the same address (the old one must have ended).
  void restart_manager();

  // `uni ARGS...` with the cluster's environment.
  CommandResult uni(const std::vector<std::string>& args, const CommandOptions& options = {});
  // Any program (argv[0] a path) with the cluster's environment.
  CommandResult run(const std::vector<std::string>& argv, const CommandOptions& options = {});
  // A long-running program with the cluster's environment, output in the temp dir.
  ChildProcess start(const std::string& name, const std::vector<std::string>& argv,
                     const std::vector<std::string>& extra_env = {}, bool cluster_env = true);

  // `uni status --json`; a failure fails the test and returns null.
  nlohmann::json status();
  // The same document asked through the C++ API from this process (no
  // process spawned: for polls); null if the manager cannot be reached.
  nlohmann::json api_status();
  // The worker entry of `status` whose pid is this one, or null.
  nlohmann::json worker_status(pid_t pid);

  // A boss in this test process through the C++ API. Points this process's
  // UNI_CONFIG_DIR at the cluster's first, so the derived-key cache lands there.
  uni::Cluster connect(uni::ConnectOptions options = {});

 private:
  void start_manager(const std::string& listen);
  // `uni keygen` for options_.keys and the harness's own, and the clients file.
  void make_keys();
  std::vector<std::string> client_env() const;

  ClusterOptions options_;
  TempDir dir_;
  std::string address_;
  ChildProcess manager_;
  std::deque<ChildProcess> workers_;  // deque: references stay valid as it grows
};

// The JSON that `uni status --json` printed in `r`; null (and the test
// failed) if the command failed or printed no JSON object.
nlohmann::json status_json_of(const CommandResult& r);
// The status of the cluster `connect` reaches, through the C++ API (no
// process spawned), as `uni status --json` prints it; null while it does
// not answer (down, restarting: a poll asks again).
nlohmann::json api_status_of(const std::function<uni::Cluster(uni::ConnectOptions)>& connect);

// Polls the status of the cluster `connect` reaches, through the C++ API (no
// process spawned), until it lists a worker whose supervisor has this pid.
// Fails the test (ADD_FAILURE) and returns false on timeout.
bool wait_for_listed_worker(const std::function<uni::Cluster()>& connect, pid_t pid,
                            std::chrono::milliseconds timeout);

// This machine's host name, as workers report it.
std::string host_name();

// Splits text into lines (no trailing empty line).
std::vector<std::string> split_lines(const std::string& text);

}  // namespace uni::test
