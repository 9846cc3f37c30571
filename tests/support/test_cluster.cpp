// TestCluster: real manager and worker processes for the integration tests.
#include "test_cluster.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

namespace uni::test {

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// A cluster given no authkey takes this one. It is the same for every test
// of the build tree so that its Argon2id derivation (a fraction of a second
// of CPU and 64 MiB, paid by the first process of each cluster) is done once
// and shared through UNI_TEST_KEY_CACHE; isolation comes from each cluster's
// own ephemeral port and config dir, not from the secret.
constexpr const char* kSharedAuthkey = "uni-test-shared-authkey-7c1e9a";

// The derived-key files a cluster's processes would write into
// CONFIG/derived: copied in from the run's cache before the cluster starts.
void copy_cached_keys(const std::filesystem::path& config_dir) {
  const std::filesystem::path cache = std::filesystem::path(UNI_TEST_KEY_CACHE) / "derived";
  std::error_code ec;
  if (!std::filesystem::is_directory(cache, ec)) return;
  const std::filesystem::path target = config_dir / "derived";
  std::filesystem::create_directories(target);
  std::filesystem::permissions(target, std::filesystem::perms::owner_all);
  for (const auto& entry : std::filesystem::directory_iterator(cache, ec)) {
    if (entry.path().extension() != ".keys") continue;  // not another test's copy under way
    const std::filesystem::path to = target / entry.path().filename();
    if (!std::filesystem::copy_file(entry.path(), to, ec)) continue;
    std::filesystem::permissions(
        to, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write, ec);
  }
}

// ... and, once the manager has derived what was missing, copied back out
// (a temp name, then a rename: parallel tests never see half a file).
void keep_derived_keys(const std::filesystem::path& config_dir) {
  const std::filesystem::path cache = std::filesystem::path(UNI_TEST_KEY_CACHE) / "derived";
  std::error_code ec;
  std::filesystem::create_directories(cache, ec);
  for (const auto& entry : std::filesystem::directory_iterator(config_dir / "derived", ec)) {
    const std::filesystem::path to = cache / entry.path().filename();
    if (std::filesystem::exists(to, ec)) continue;
    const std::filesystem::path temp =
        cache / (entry.path().filename().string() + "." + std::to_string(::getpid()));
    if (std::filesystem::copy_file(entry.path(), temp, ec)) std::filesystem::rename(temp, to, ec);
  }
}

}  // namespace

std::vector<std::string> merge_env(std::vector<std::string> base,
                                   const std::vector<std::string>& extra) {
  for (const std::string& e : extra) {
    std::string name = e.substr(0, e.find('=') + 1);
    std::erase_if(base, [&](const std::string& b) { return b.rfind(name, 0) == 0; });
    base.push_back(e);
  }
  return base;
}

std::string bin_path(const std::string& program) {
  return std::string(UNI_BIN_DIR) + "/" + program;
}
std::string uni_binary() { return bin_path("uni"); }
std::string module_path(const std::string& name) {
  return std::string(UNI_MODULE_DIR) + "/lib" + name + ".so";
}

std::string host_name() {
  char name[256] = {};
  ::gethostname(name, sizeof(name) - 1);
  return name;
}

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) out.push_back(line);
  return out;
}

std::vector<std::string> CommandResult::lines() const { return split_lines(out); }

std::string CommandResult::describe() const {
  std::ostringstream s;
  s << "command:";
  for (const auto& a : argv) s << " " << a;
  s << "\nexit code: " << exit_code << (timed_out ? " (timed out, killed)" : "")
    << "\nelapsed: " << elapsed.count() << " ms\n--- stdout ---\n"
    << out << "--- stderr ---\n"
    << err << "---";
  return s.str();
}

TestCluster::TestCluster(ClusterOptions options) : options_(std::move(options)), dir_("uni-it") {
  const bool shared_key = options_.authkey.empty();
  if (shared_key) options_.authkey = kSharedAuthkey;
  std::filesystem::create_directories(config_dir());
  std::filesystem::create_directories(cache_home());
  if (shared_key) copy_cached_keys(config_dir());
  if (keyed()) make_keys();
  start_manager("tcp://127.0.0.1:0");
  if (shared_key) keep_derived_keys(config_dir());
  std::vector<pid_t> pids;
  for (int i = 0; i < options_.workers; ++i)
    pids.push_back(add_worker(options_.slots, options_.worker_args, false).pid());
  for (pid_t pid : pids)
    if (!wait_for_worker(pid)) break;
}

TestCluster::~TestCluster() {
  // Workers first, so that none of them notices the manager going away.
  for (auto& w : workers_) w.kill(SIGKILL);
  manager_.kill(SIGKILL);
}

std::vector<std::string> TestCluster::base_env() const {
  std::vector<std::string> env = {"UNI_CONFIG_DIR=" + config_dir().string(),
                                  "XDG_CACHE_HOME=" + cache_home().string()};
  env.insert(env.end(), options_.env.begin(), options_.env.end());
  return env;
}

std::vector<std::string> TestCluster::client_env() const {
  std::vector<std::string> env = base_env();
  env.push_back("UNI_CONNECT=" + address_);
  env.push_back("UNI_AUTHKEY=" + options_.authkey);
  // UNI_KEY wins over UNI_AUTHKEY: a keyed cluster's commands use the
  // harness's admin key unless a test gives another.
  if (keyed()) env.push_back("UNI_KEY=" + key_file("harness").string());
  return env;
}

std::filesystem::path TestCluster::key_file(const std::string& name) const {
  return dir_ / "keys" / (name + ".secret");
}

void TestCluster::make_keys() {
  std::vector<std::pair<std::string, std::string>> all = options_.keys;
  all.emplace_back("harness", "admin");
  all.emplace_back("harness-worker", "worker");
  std::string clients;
  for (const auto& [name, role] : all) {
    CommandResult r = run({uni_binary(), "keygen", "--role", role, "--out",
                           (dir_ / "keys" / name).string(), "--authkey", options_.authkey},
                          {.cluster_env = false});
    if (r.exit_code != 0) throw std::runtime_error("uni keygen failed: " + r.describe());
    clients += r.out;  // its .pub line
  }
  std::ofstream(clients_file()) << clients;
  options_.manager_args.insert(options_.manager_args.end(), {"--clients", clients_file().string()});
}

void TestCluster::start_manager(const std::string& listen) {
  std::vector<std::string> argv = {uni_binary(), "manager",   "--listen",
                                   listen,       "--authkey", options_.authkey};
  if (options_.up_workers >= 0) {
    argv[1] = "up";
    argv.insert(argv.end(), {"--workers", std::to_string(options_.up_workers), "--slots",
                             std::to_string(options_.slots)});
  }
  argv.insert(argv.end(), options_.manager_args.begin(), options_.manager_args.end());
  manager_ = start(options_.up_workers >= 0 ? "up" : "manager", argv, {}, false);
  if (!manager_.wait_for_stdout("\n", 20s))
    throw std::runtime_error("uni manager did not start: " + describe(manager_.status()) +
                             "\nstdout: " + manager_.read_stdout() +
                             "\nstderr: " + manager_.read_stderr());
  // The first line is "listening on ADDR".
  std::string line = split_lines(manager_.read_stdout()).at(0);
  const std::string prefix = "listening on ";
  if (line.rfind(prefix, 0) != 0)
    throw std::runtime_error("uni manager's first line is not 'listening on ADDR': " + line);
  address_ = line.substr(prefix.size());
}

ChildProcess& TestCluster::add_worker(unsigned slots, const std::vector<std::string>& extra,
                                      bool wait) {
  std::vector<std::string> argv = {uni_binary(), "worker",  "--connect",
                                   address_,     "--slots", std::to_string(slots)};
  const bool own_key = std::find(extra.begin(), extra.end(), "--key") != extra.end();
  if (!keyed()) argv.insert(argv.end(), {"--authkey", options_.authkey});
  else if (!own_key) argv.insert(argv.end(), {"--key", key_file("harness-worker").string()});
  argv.insert(argv.end(), extra.begin(), extra.end());
  ChildProcess& w = workers_.emplace_back(start("worker", argv, {}, false));
  if (wait) wait_for_worker(w.pid());
  return w;
}

bool wait_for_listed_worker(const std::function<uni::Cluster()>& connect, pid_t pid,
                            std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  std::optional<uni::Cluster> boss;
  std::string problem = "not listed";
  while (Clock::now() < deadline) {
    try {
      if (!boss) boss = connect();
      for (const uni::WorkerStatus& w : boss->status().workers)
        if (w.pid == static_cast<std::uint32_t>(pid)) return true;
    } catch (const std::exception& e) {
      problem = e.what();
      boss.reset();  // the next round connects again
    }
    std::this_thread::sleep_for(20ms);
  }
  ADD_FAILURE() << "worker " << pid << " was not listed within " << timeout.count() << " ms ("
                << problem << ")";
  return false;
}

bool TestCluster::wait_for_worker(pid_t pid, std::chrono::milliseconds timeout) {
  if (wait_for_listed_worker([this] { return connect(); }, pid, timeout)) return true;
  for (auto& w : workers_)
    if (w.pid() == pid) ADD_FAILURE() << "the stderr of worker " << pid << ":\n" << w.read_stderr();
  return false;
}

bool TestCluster::wait_for_worker_count(std::size_t count, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  std::optional<uni::Cluster> boss;
  std::size_t seen = 0;
  std::string problem;
  while (Clock::now() < deadline) {
    try {
      if (!boss) boss = connect();
      seen = boss->status().workers.size();
      if (seen == count) return true;
    } catch (const std::exception& e) {
      problem = std::string(" (") + e.what() + ")";
      boss.reset();
    }
    std::this_thread::sleep_for(20ms);
  }
  ADD_FAILURE() << "expected " << count << " workers, the manager lists " << seen << problem;
  return false;
}

ExitStatus TestCluster::stop_manager(std::chrono::milliseconds grace) {
  return manager_.stop(grace);
}

void TestCluster::restart_manager() {
  if (manager_.running()) throw std::logic_error("restart_manager: the manager still runs");
  std::string address = address_;
  start_manager(address);
  if (address_ != address)
    ADD_FAILURE() << "the restarted manager listens on " << address_ << ", not " << address;
}

ChildProcess TestCluster::start(const std::string& name, const std::vector<std::string>& argv,
                                const std::vector<std::string>& extra_env, bool cluster_env) {
  ChildOptions options;
  options.argv = argv;
  options.env = merge_env(cluster_env ? client_env() : base_env(), extra_env);
  options.output_dir = dir_.path();
  options.name = name;
  return ChildProcess::start(options);
}

CommandResult run_command(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                          const std::filesystem::path& output_dir, const CommandOptions& options) {
  ChildOptions child;
  child.argv = argv;
  child.env = merge_env(env, options.env);
  child.output_dir = output_dir;
  child.name = std::filesystem::path(argv.at(0)).filename().string();
  child.stdin_text = options.stdin_text;

  CommandResult result;
  result.argv = argv;
  auto started = Clock::now();
  ChildProcess process = ChildProcess::start(child);
  std::optional<ExitStatus> status = process.wait_for(options.timeout);
  result.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started);
  if (!status) {
    result.timed_out = true;
    process.kill(SIGKILL);
    process.wait_for(10s);
  } else if (!status->signaled) {
    result.exit_code = status->code;
  }
  result.out = process.read_stdout();
  result.err = process.read_stderr();
  if (result.timed_out)
    ADD_FAILURE() << "command did not end within " << options.timeout.count() << " ms\n"
                  << result.describe();
  return result;
}

CommandResult TestCluster::run(const std::vector<std::string>& argv,
                               const CommandOptions& options) {
  return run_command(argv, options.cluster_env ? client_env() : base_env(), dir_.path(), options);
}

CommandResult TestCluster::uni(const std::vector<std::string>& args,
                               const CommandOptions& options) {
  std::vector<std::string> argv = {uni_binary()};
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv, options);
}

nlohmann::json status_json_of(const CommandResult& r) {
  nlohmann::json j = nlohmann::json::parse(r.out, nullptr, false);
  if (r.exit_code != 0 || j.is_discarded() || !j.is_object()) {
    ADD_FAILURE() << "uni status --json failed\n" << r.describe();
    return nullptr;
  }
  return j;
}

nlohmann::json api_status_of(const std::function<uni::Cluster(uni::ConnectOptions)>& connect) {
  try {
    uni::ConnectOptions options;
    options.connect_timeout = 2s;
    options.on_notice = [](const std::string&) {};
    uni::Cluster boss = connect(options);
    return nlohmann::json::parse(uni::to_json(boss.status()));
  } catch (const std::exception&) {
    return nullptr;  // down or restarting: the poll asks again
  }
}

nlohmann::json TestCluster::status() {
  return status_json_of(uni({"status", "--json"}, {.timeout = 15s}));
}

nlohmann::json TestCluster::api_status() {
  return api_status_of([this](uni::ConnectOptions options) { return connect(std::move(options)); });
}

nlohmann::json TestCluster::worker_status(pid_t pid) {
  nlohmann::json j = status();
  if (j.is_object() && j.contains("workers"))
    for (const auto& w : j["workers"])
      if (w.value("pid", 0) == pid) return w;
  return nullptr;
}

uni::Cluster TestCluster::connect(uni::ConnectOptions options) {
  ::setenv("UNI_CONFIG_DIR", config_dir().c_str(), 1);
  ::setenv("XDG_CACHE_HOME", cache_home().c_str(), 1);
  const bool given =
      !options.authkey.empty() || !options.authkey_file.empty() || !options.key_file.empty();
  if (!given && keyed()) options.key_file = key_file("harness").string();
  else if (!given) options.authkey = options_.authkey;
  return uni::connect(address_, options);
}

}  // namespace uni::test
