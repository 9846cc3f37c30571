// `uni manager`, `uni worker`, `uni up` and the hidden `uni executor`: the
// long-running processes of a cluster.
#include <poll.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>

#include "app/links.hpp"
#include "broker/connect_failure.hpp"
#include "cli/commands.hpp"
#include "cli/signals.hpp"
#include "common/descriptors.hpp"
#include "common/files.hpp"
#include "common/key_files.hpp"
#include "common/keys.hpp"
#include "common/log.hpp"
#include "common/process.hpp"
#include "common/units.hpp"
#include "manager/manager.hpp"
#include "worker/executor.hpp"
#include "worker/executor_keeper.hpp"
#include "worker/supervisor.hpp"

namespace uni::cli {

namespace {

std::uint64_t size_flag(const std::string& text, const char* flag) {
  auto size = parse_size(text);
  if (!size) throw CLI::ValidationError(flag, "not a size: " + text + " (e.g. 256M, 1G)");
  return *size;
}

std::chrono::milliseconds seconds_flag(const std::string& text, const char* flag) {
  auto ms = parse_seconds(text);
  if (!ms) throw CLI::ValidationError(flag, "not a duration in seconds: " + text);
  return *ms;
}

// As seconds_flag, and hours too ("24h", "1.5h"): how long results are kept.
std::chrono::milliseconds hours_or_seconds_flag(const std::string& text, const char* flag) {
  if (text.size() > 1 && text.back() == 'h' &&
      text.find_first_not_of("0123456789.") == text.size() - 1) {
    auto ms = parse_seconds(text.substr(0, text.size() - 1));
    if (ms && ms->count() < 1'000'000'000'000) return *ms * 3600;
  }
  return seconds_flag(text, flag);
}

// The manager's authkey: given, or found, or created on first use.
std::string manager_authkey(const std::string& flag, const std::string& file) {
  if (auto key = find_authkey(flag, file)) return *key;
  std::string key = create_default_authkey();
  log::info("generated a new authkey in {} (clients of this user find it there)",
            default_authkey_path());
  return key;
}

struct ManagerFlags {
  std::string listen = "tcp://127.0.0.1:7070";
  std::string authkey, authkey_file;
  std::string clients;  // `uni manager` only
  std::string heartbeat = "1", heartbeat_timeout = "3", boss_grace = "60";
  std::string max_message = "128M", max_module = "100M", store_size = "1G";
  std::uint64_t max_tasks = 2'000'000;
  std::string max_queued_bytes = "1G";
  std::size_t max_handshakes = 512;
  std::string http, http_token_file;
  std::vector<std::string> http_hosts;
  bool http_redact = false;
  // Results kept for `uni result` (manager_config.hpp).
  std::string keep_results_for = "24h", max_kept_result_bytes = "256M";
  std::uint64_t max_kept_results = 100'000;

  void add_to(CLI::App& app) {
    app.add_option("--listen", listen,
                   "address to listen on (tcp://HOST:PORT; port 0: any free port)")
        ->capture_default_str();
    app.add_option("--authkey", authkey,
                   "shared secret (default: $UNI_AUTHKEY or ~/.config/uni/authkey)");
    app.add_option("--authkey-file", authkey_file, "file holding the shared secret");
    app.add_option("--heartbeat", heartbeat, "heartbeat interval, seconds")->capture_default_str();
    app.add_option("--heartbeat-timeout", heartbeat_timeout,
                   "a worker silent this long is dead and its tasks are requeued, seconds")
        ->capture_default_str();
    app.add_option("--boss-grace", boss_grace,
                   "a disconnected boss's tasks and results are kept this long, seconds")
        ->capture_default_str();
    app.add_option("--max-message", max_message, "largest message accepted")->capture_default_str();
    app.add_option("--max-module", max_module, "largest module accepted")->capture_default_str();
    app.add_option("--store-size", store_size, "memory for stored modules")->capture_default_str();
    app.add_option("--max-tasks", max_tasks,
                   "tasks held at most (queued, running, unacknowledged); past it bosses are told "
                   "to submit again later")
        ->capture_default_str();
    app.add_option("--max-queued-bytes", max_queued_bytes,
                   "memory the held tasks may take (their arguments and results); past it, as "
                   "past --max-tasks, bosses are told to submit again later")
        ->capture_default_str();
    app.add_option("--max-handshakes", max_handshakes,
                   "connections completing their handshake at once at most; beyond, the oldest "
                   "are closed (they retry)")
        ->capture_default_str();
    app.add_option("--keep-results-for", keep_results_for,
                   "keep the result of a task uni submit handed over this long after it ends "
                   "(24h, 90min, 3600: hours, minutes or seconds); in memory: a restart loses "
                   "them")
        ->capture_default_str();
    app.add_option("--max-kept-results", max_kept_results,
                   "results kept at most; past it the oldest are evicted")
        ->capture_default_str();
    app.add_option("--max-kept-result-bytes", max_kept_result_bytes,
                   "memory for kept results; past it the oldest are evicted")
        ->capture_default_str();
    app.add_option("--http", http,
                   "serve a read-only dashboard, /metrics and /api/status on HOST:PORT (a port "
                   "alone: 127.0.0.1; beyond loopback it needs --http-token-file)");
    app.add_option("--http-token-file", http_token_file,
                   "file holding the bearer token every HTTP request must carry "
                   "(Authorization: Bearer TOKEN; the dashboard: open /?token=TOKEN once)");
    app.add_option("--http-host", http_hosts,
                   "a name the HTTP server answers for (its Host header), besides IP addresses "
                   "and localhost; repeat for more")
        ->allow_extra_args(false);
    app.add_flag("--http-redact", http_redact,
                 "leave task error texts (which may quote arguments) out of /api/status and the "
                 "dashboard");
  }

  manager::ManagerConfig config(const std::string& key) const {
    manager::ManagerConfig c;
    c.listen = listen;
    c.keys = derive_curve_keys(key);
    c.heartbeat = seconds_flag(heartbeat, "--heartbeat");
    c.heartbeat_timeout = seconds_flag(heartbeat_timeout, "--heartbeat-timeout");
    c.boss_grace = seconds_flag(boss_grace, "--boss-grace");
    c.max_message = size_flag(max_message, "--max-message");
    c.max_module = size_flag(max_module, "--max-module");
    c.module_store_bytes = size_flag(store_size, "--store-size");
    c.max_tasks = max_tasks;
    c.max_queued_bytes = size_flag(max_queued_bytes, "--max-queued-bytes");
    if (max_handshakes == 0) throw CLI::ValidationError("--max-handshakes", "must be at least 1");
    c.max_pending_handshakes = max_handshakes;
    c.http = http;
    c.http_hosts = http_hosts;
    c.http_redact = http_redact;
    if (!http_token_file.empty()) {
      if (http.empty()) throw CLI::ValidationError("--http-token-file", "needs --http");
      try {
        c.http_token = read_file(http_token_file);
      } catch (const std::exception& e) {
        throw CLI::ValidationError("--http-token-file", e.what());
      }
      while (!c.http_token.empty() && (c.http_token.back() == '\n' || c.http_token.back() == '\r'))
        c.http_token.pop_back();
      if (c.http_token.empty())
        throw CLI::ValidationError("--http-token-file", "the file " + http_token_file +
                                                            " is empty: write the token into it");
    }
    c.clients_file = clients;
    c.keep_results_for = hours_or_seconds_flag(keep_results_for, "--keep-results-for");
    c.max_kept_results = max_kept_results;
    c.max_kept_result_bytes = size_flag(max_kept_result_bytes, "--max-kept-result-bytes");
    if (c.max_module + (1 << 20) > c.max_message)
      throw CLI::ValidationError("--max-module", "must be at least 1M below --max-message");
    return c;
  }
};

struct WorkerFlags {
  ClientFlags client;
  unsigned slots = 0;
  std::string isolation = "process";
  std::string cache_dir, cache_size = "1G", mem_limit, drain_timeout = "30";
  unsigned max_tasks_per_executor = 0;
  std::string max_executor_memory, pid_namespace = "off", connect_timeout = "0";
  std::string sandbox = "default";
  std::vector<std::string> hide;  // more paths tasks must not see (uni up's key file)
  std::vector<std::string> trust, allow_modules;
  pid_t parent = 0;

  void add_to(CLI::App& app, bool with_client_flags) {
    if (with_client_flags) client.add_to(app);
    app.add_option("--slots", slots, "tasks run at once (default: one per core)");
    app.add_option("--isolation", isolation,
                   "process: each task in an executor process; thread: "
                   "on threads of the worker (trusted code, lowest latency)")
        ->check(CLI::IsMember({"process", "thread"}))
        ->capture_default_str();
    app.add_option("--cache-dir", cache_dir, "module cache (default: ~/.cache/uni/modules)");
    app.add_option("--cache-size", cache_size, "module cache limit; unused modules are evicted LRU")
        ->capture_default_str();
    app.add_option("--mem-limit", mem_limit, "address-space limit per executor, e.g. 256M");
    app.add_option("--drain-timeout", drain_timeout,
                   "on SIGTERM, seconds running tasks get to finish; then they are stopped, and "
                   "rerun elsewhere as a failed attempt")
        ->capture_default_str();
    app.add_option("--max-tasks-per-executor", max_tasks_per_executor,
                   "replace an executor, between tasks, after it ran N tasks (for leaky code; "
                   "default: never)");
    app.add_option("--max-executor-memory", max_executor_memory,
                   "replace an executor, between tasks, once its resident memory passes this, "
                   "e.g. 512M (default: never)");
    app.add_option("--pid-namespace", pid_namespace,
                   "on: each executor in a PID namespace of its own, so that the kernel ends "
                   "what tasks start even if the worker and its executors are all killed at "
                   "once (tasks then see the pids of that namespace)")
        ->check(CLI::IsMember({"on", "off"}))
        ->capture_default_str();
    app.add_option("--sandbox", sandbox,
                   "what tasks run in (docs/security.md): default: seccomp, no_new_privs, no "
                   "secrets in their environment, key files and the module cache hidden where "
                   "the system allows; strict: also loopback-only network and a read-only "
                   "filesystem but for /tmp; off: the worker's own environment and rights")
        ->check(CLI::IsMember({"off", "default", "strict"}))
        ->capture_default_str();
    app.add_option("--trust", trust,
                   "run only modules signed by a key in this file (lines of NAME.signing.pub "
                   "files; uni sign), or listed by --allow-modules; repeatable")
        ->check(CLI::ExistingFile);
    app.add_option("--allow-modules", allow_modules,
                   "run only modules whose hash this file lists (one a line, as uni inspect "
                   "shows it), or signed by a --trust key; repeatable")
        ->check(CLI::ExistingFile);
  }

  worker::WorkerConfig config() const {
    worker::WorkerConfig c;
    c.slots = slots;
    c.thread_isolation = isolation == "thread";
    c.cache_dir = cache_dir;
    c.cache_bytes = size_flag(cache_size, "--cache-size");
    if (!mem_limit.empty()) c.mem_limit = size_flag(mem_limit, "--mem-limit");
    c.drain_timeout = seconds_flag(drain_timeout, "--drain-timeout");
    c.max_tasks_per_executor = max_tasks_per_executor;
    if (!max_executor_memory.empty())
      c.max_executor_memory = size_flag(max_executor_memory, "--max-executor-memory");
    c.pid_namespace = pid_namespace == "on";
    c.connect_timeout = seconds_flag(connect_timeout, "--connect-timeout");
    c.sandbox.level =
        worker::sandbox_level_from_name(sandbox).value_or(worker::SandboxLevel::kDefault);
    c.sandbox.hidden = secret_paths();
    c.trust_files = trust;
    c.allow_module_files = allow_modules;
    return c;
  }

  // What tasks must not read: the config dir (authkey, derived keys), the
  // key files this worker was given (by flag, $UNI_KEY or the NATS
  // variables).
  std::vector<std::string> secret_paths() const {
    std::vector<std::string> paths = {config_dir()};
    if (!client.authkey_file.empty()) paths.push_back(client.authkey_file);
    if (std::string key = find_key_file(client.key_file); !key.empty()) paths.push_back(key);
    paths.insert(paths.end(), hide.begin(), hide.end());
    for (const char* variable : {"UNI_NATS_NKEY_SEED_FILE", "UNI_NATS_TLS_KEY"})
      if (const char* path = std::getenv(variable); path && *path) paths.emplace_back(path);
    return paths;
  }
};

// The worker's CURVE keys: its key file (--key, else $UNI_KEY unless an
// authkey is given), else the authkey's; nullopt if there is neither.
std::optional<CurveKeys> worker_keys(const ClientFlags& flags) {
  const bool authkey_given = !flags.authkey.empty() || !flags.authkey_file.empty();
  if (!flags.key_file.empty() && authkey_given)
    throw std::runtime_error("give --key or an authkey, not both");
  if (std::string file = authkey_given ? std::string() : find_key_file(flags.key_file);
      !file.empty())
    return curve_keys_of(read_client_key(file));
  std::optional<std::string> authkey = find_authkey(flags.authkey, flags.authkey_file);
  if (!authkey) return std::nullopt;
  return derive_curve_keys(*authkey);
}

int run_worker(WorkerFlags& flags) {
  log::setup("worker");
  // Its memory holds the keys: out of reach of other processes of its user
  // (and of its own tasks, whose sandbox has no CAP_SYS_PTRACE).
  worker::make_undumpable();
  if (flags.parent != 0) {
    // Started by `uni up`: end with it.
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != flags.parent) return kExitOk;
  }
  std::string connect = flags.client.connect;
  if (connect.empty()) connect = "tcp://127.0.0.1:7070";
  // A broker with no manager takes its own credentials (docs/scale-out.md):
  // no keys. With a manager: the worker's key file or the authkey.
  std::optional<CurveKeys> keys;
  try {
    keys = app::broker_identity(connect).has_manager ? worker_keys(flags.client)
                                                     : std::optional<CurveKeys>(CurveKeys{});
  } catch (const std::exception& e) {
    std::fprintf(stderr, "uni worker: %s\n", e.what());
    return kExitUsage;
  }
  if (!keys) {
    std::fprintf(stderr,
                 "uni worker: no key: pass --key (a key file from uni keygen), --authkey or "
                 "--authkey-file, or set UNI_KEY or UNI_AUTHKEY\n");
    return kExitUsage;
  }
  std::optional<worker::Supervisor> started;
  try {
    started.emplace(flags.config(), app::make_worker_link(connect, [&] { return *keys; }));
  } catch (const CLI::ValidationError&) {
    throw;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "uni worker: %s\n", e.what());
    return kExitUsage;
  }
  worker::Supervisor& supervisor = *started;
  on_stop_signal([](void* s) { static_cast<worker::Supervisor*>(s)->request_drain(); },
                 &supervisor);
  try {
    supervisor.run();
  } catch (const broker::ConnectFailure& e) {
    std::fprintf(stderr, "uni worker: %s\n", e.what());
    return kExitConnect;
  }
  if (flags.isolation == "thread") {
    // Task threads that never return would block the exit forever.
    std::fflush(nullptr);
    std::_Exit(kExitOk);
  }
  return kExitOk;
}

// Runs the manager in this thread; `started` is called once it listens.
int run_manager(const ManagerFlags& flags,
                const std::function<void(manager::Manager&, const std::string&)>& started) {
  log::setup("manager");
  // Connections, the HTTP server and the stores share one descriptor budget.
  log::debug("descriptor limit: {}", raise_descriptor_limit());
  worker::make_undumpable();  // it holds the authkey and the keys derived from it
  std::string key = manager_authkey(flags.authkey, flags.authkey_file);
  manager::Manager manager(flags.config(key));
  std::printf("listening on %s\n", manager.endpoint().c_str());
  if (!manager.http_url().empty()) std::printf("dashboard on %s/\n", manager.http_url().c_str());
  std::fflush(stdout);
  on_stop_signal([](void* m) { static_cast<manager::Manager*>(m)->request_stop(); }, &manager);
  on_reload_signal([](void* m) { static_cast<manager::Manager*>(m)->request_reload(); }, &manager);
  if (started) started(manager, key);
  manager.run();
  return kExitOk;
}

// `uni up`'s workers: started, restarted if they die, stopped with the manager.
class WorkerGroup {
 public:
  WorkerGroup(std::vector<std::string> argv, std::string key, unsigned count)
      : argv_(std::move(argv)), key_(std::move(key)), workers_(count) {
    for (auto& w : workers_) w = spawn();
    watcher_ = std::thread([this] { watch(); });
  }

  ~WorkerGroup() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
      for (auto& w : workers_) w.signal(SIGTERM);
    }
    watcher_.join();
    // Process destructors kill (SIGKILL) whatever has not ended after the grace.
  }

 private:
  Process spawn() {
    SpawnOptions options;
    options.argv = argv_;
    options.env = {"UNI_AUTHKEY=" + key_};  // not on the command line, where ps shows it
    return Process::spawn(options);
  }

  // A worker that dies is started again after a pause. One that ends while
  // uni up is stopping is not: Ctrl-C in a terminal signals the whole process
  // group, so the workers get SIGINT with uni up and end at the same moment;
  // restarting them would only leave new workers failing to connect to a
  // manager that is gone, and hold up the exit.
  void watch() {
    using Clock = std::chrono::steady_clock;
    auto deadline = Clock::time_point::max();
    struct Restart {
      Clock::time_point at = Clock::time_point::max();
      std::string why;
    };
    std::vector<Restart> restarts(workers_.size());
    for (;;) {
      std::vector<pollfd> fds;
      {
        std::lock_guard lock(mutex_);
        bool stopping = stopping_ || received_stop_signal() != 0;
        for (std::size_t i = 0; i < workers_.size(); ++i) {
          if (restarts[i].at > Clock::now()) continue;
          if (!stopping) {
            log::warn("{}; starting another", restarts[i].why);
            workers_[i] = spawn();
          }
          restarts[i] = {};
        }
        for (auto& w : workers_) fds.push_back({w.running() ? w.pidfd() : -1, POLLIN, 0});
        bool any = false;
        for (auto& w : workers_) any |= w.running();
        if (stopping_ && deadline == Clock::time_point::max())
          deadline = Clock::now() + std::chrono::seconds(5);
        if (stopping_ && (!any || Clock::now() > deadline)) return;
      }
      ::poll(fds.data(), fds.size(), 200);
      std::lock_guard lock(mutex_);
      for (std::size_t i = 0; i < workers_.size(); ++i) {
        if (!(fds[i].revents & POLLIN)) continue;
        auto status = workers_[i].try_wait();
        if (!status || stopping_ || received_stop_signal() != 0) continue;
        // The pause also lets a stop signal that is on its way arrive first.
        restarts[i] = {Clock::now() + std::chrono::milliseconds(500),
                       "worker " + std::to_string(workers_[i].pid()) + " " + status->describe()};
      }
    }
  }

  std::vector<std::string> argv_;
  std::string key_;
  std::mutex mutex_;
  std::vector<Process> workers_;
  bool stopping_ = false;
  std::thread watcher_;
};

}  // namespace

void ClientFlags::add_to(CLI::App& app) {
  // A scheme typo (nat://) is a usage error naming the schemes, not a
  // manager that cannot be reached.
  CLI::Validator scheme(
      [](std::string& address) -> std::string { return app::address_problem(address); }, "ADDRESS");
  app.add_option("--connect", connect,
                 "the cluster's address: a manager's (HOST:PORT, tcp://HOST:PORT) or a NATS "
                 "cluster's (nats://HOST:PORT, tls://..., comma-separated) (default: $UNI_CONNECT "
                 "or tcp://127.0.0.1:7070)")
      ->envname("UNI_CONNECT")
      ->check(scheme);
  app.add_option("--key", key_file,
                 "client key file from uni keygen (NAME.secret), for a manager started with "
                 "--clients (default: $UNI_KEY)");
  app.add_option("--authkey", authkey,
                 "shared secret (default: $UNI_AUTHKEY or ~/.config/uni/authkey)");
  app.add_option("--authkey-file", authkey_file, "file holding the shared secret");
}

void add_manager_command(CLI::App& app, int& exit_code) {
  auto* cmd =
      app.add_subcommand("manager", "run a manager: task queue, result routing, module store");
  auto flags = std::make_shared<ManagerFlags>();
  flags->add_to(*cmd);
  cmd->add_option("--clients", flags->clients,
                  "admit only the keys listed in FILE (lines of uni keygen's .pub files: ROLE KEY "
                  "NAME), each with its role, instead of the shared authkey; SIGHUP reads it "
                  "again");
  cmd->callback([flags, &exit_code] { exit_code = run_manager(*flags, nullptr); });
}

void add_worker_command(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand("worker", "run a worker that runs whatever tasks it is sent");
  auto flags = std::make_shared<WorkerFlags>();
  flags->add_to(*cmd, true);
  cmd->add_option("--connect-timeout", flags->connect_timeout,
                  "give up (exit 3) if the cluster does not answer within this many seconds; 0: "
                  "wait for it as long as it takes")
      ->capture_default_str();
  cmd->add_option("--parent-pid", flags->parent, "exit when this process ends")->group("");
  cmd->add_option("--hide", flags->hide, "a key file tasks must not read")->group("");
  cmd->callback([flags, &exit_code] { exit_code = run_worker(*flags); });
}

void add_up_command(CLI::App& app, int& exit_code) {
  auto* cmd =
      app.add_subcommand("up", "run a manager and N workers in the foreground (Ctrl-C stops all)");
  auto manager_flags = std::make_shared<ManagerFlags>();
  auto worker_flags = std::make_shared<WorkerFlags>();
  auto workers = std::make_shared<unsigned>(2);
  manager_flags->add_to(*cmd);
  worker_flags->add_to(*cmd, false);
  cmd->add_option("--workers", *workers, "number of worker processes")->capture_default_str();
  cmd->callback([=, &exit_code] {
    std::unique_ptr<WorkerGroup> group;
    exit_code = run_manager(*manager_flags, [&](manager::Manager& m, const std::string& key) {
      std::vector<std::string> argv = {"/proc/self/exe",  "worker",
                                       "--connect",       m.endpoint(),
                                       "--isolation",     worker_flags->isolation,
                                       "--cache-size",    worker_flags->cache_size,
                                       "--drain-timeout", worker_flags->drain_timeout,
                                       "--parent-pid",    std::to_string(::getpid())};
      if (worker_flags->slots)
        argv.insert(argv.end(), {"--slots", std::to_string(worker_flags->slots)});
      if (!worker_flags->cache_dir.empty())
        argv.insert(argv.end(), {"--cache-dir", worker_flags->cache_dir});
      if (!worker_flags->mem_limit.empty())
        argv.insert(argv.end(), {"--mem-limit", worker_flags->mem_limit});
      if (worker_flags->max_tasks_per_executor)
        argv.insert(argv.end(), {"--max-tasks-per-executor",
                                 std::to_string(worker_flags->max_tasks_per_executor)});
      if (!worker_flags->max_executor_memory.empty())
        argv.insert(argv.end(), {"--max-executor-memory", worker_flags->max_executor_memory});
      if (worker_flags->pid_namespace == "on") argv.insert(argv.end(), {"--pid-namespace", "on"});
      argv.insert(argv.end(), {"--sandbox", worker_flags->sandbox});
      for (const std::string& f : worker_flags->trust) argv.insert(argv.end(), {"--trust", f});
      for (const std::string& f : worker_flags->allow_modules)
        argv.insert(argv.end(), {"--allow-modules", f});
      // The manager's key file and its HTTP token file, if named, are
      // secrets its workers' tasks must not read either.
      if (!manager_flags->authkey_file.empty())
        argv.insert(argv.end(), {"--hide", manager_flags->authkey_file});
      if (!manager_flags->http_token_file.empty())
        argv.insert(argv.end(), {"--hide", manager_flags->http_token_file});
      group = std::make_unique<WorkerGroup>(argv, key, *workers);
    });
    group.reset();  // SIGTERM the workers, wait for them
  });
}

int executor_main(int argc, char** argv) {
  if (argc == 3 && std::string(argv[2]) == "--probe-pid-namespace")
    return worker::probe_pid_namespace();
  bool probe_sandbox = argc >= 3 && std::string(argv[2]) == "--probe-sandbox";
  bool probe_python = argc >= 3 && std::string(argv[2]) == "--probe-python";
  worker::ExecutorOptions options;
  // An executor started by hand (a test driving one alone) runs as it is;
  // a worker always says which sandbox its executors enter.
  options.sandbox.level = worker::SandboxLevel::kOff;
  for (int i = probe_sandbox || probe_python ? 3 : 2; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--supervisor") options.supervisor = static_cast<pid_t>(std::atoll(argv[i + 1]));
    else if (flag == "--mem-limit") options.mem_limit = std::strtoull(argv[i + 1], nullptr, 10);
    else if (flag == "--max-memory") options.max_memory = std::strtoull(argv[i + 1], nullptr, 10);
    else if (flag == "--pid-namespace") options.pid_namespace = std::string(argv[i + 1]) == "1";
    else if (flag == "--sandbox")
      options.sandbox.level =
          worker::sandbox_level_from_name(argv[i + 1]).value_or(worker::SandboxLevel::kStrict);
    else if (flag == "--hide") options.sandbox.hidden.emplace_back(argv[i + 1]);
  }
  if (probe_sandbox) return worker::probe_executor_sandbox(options);
  if (probe_python) return worker::probe_executor_python(options);
  return worker::run_executor(options);
}

}  // namespace uni::cli
