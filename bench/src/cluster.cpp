// Local cluster processes and the bench's environment (see cluster.hpp).
#include "cluster.hpp"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "common/keys.hpp"
#include "common/unique_fd.hpp"

namespace bench {

namespace fs = std::filesystem;

// ---- children, for the signal handler --------------------------------------------

namespace {

constexpr std::size_t kMaxChildren = 256;
std::atomic<pid_t> g_children[kMaxChildren];
char g_temp_note[512] = "";  // "; temp dir ... left behind", for the signal handler

void register_child(pid_t pid) {
  for (auto& slot : g_children) {
    pid_t empty = 0;
    if (slot.compare_exchange_strong(empty, pid)) return;
  }
}

void unregister_child(pid_t pid) {
  for (auto& slot : g_children) {
    pid_t mine = pid;
    if (slot.compare_exchange_strong(mine, 0)) return;
  }
}

// A Process that leaves the registry when it goes.
struct Registered {
  pid_t pid;
  ~Registered() { unregister_child(pid); }
};

void on_signal(int sig) {
  kill_all_children();
  const char text[] = "[uni-bench] interrupted: cluster processes killed";
  [[maybe_unused]] ssize_t n = ::write(2, text, sizeof(text) - 1);
  n = ::write(2, g_temp_note, std::strlen(g_temp_note));
  n = ::write(2, "\n", 1);
  ::_exit(128 + sig);
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string tail(const std::string& text, std::size_t lines) {
  std::size_t pos = text.size();
  for (std::size_t n = 0; pos > 0 && n <= lines;) {
    --pos;
    if (text[pos] == '\n') ++n;
  }
  return text.substr(pos == 0 ? 0 : pos + 1);
}

std::string random_hex(std::size_t bytes) {
  std::vector<unsigned char> raw(bytes);
  randombytes_buf(raw.data(), raw.size());
  std::string hex(2 * bytes + 1, '\0');
  sodium_bin2hex(hex.data(), hex.size(), raw.data(), raw.size());
  hex.pop_back();
  return hex;
}

std::string self_dir() {
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec) throw std::runtime_error("cannot read /proc/self/exe: " + ec.message());
  return exe.parent_path().string();
}

bool is_file(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

}  // namespace

void kill_all_children() {
  for (auto& slot : g_children) {
    pid_t pid = slot.load();
    if (pid > 0) ::kill(pid, SIGKILL);
  }
}

void install_signal_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) ::sigaction(sig, &sa, nullptr);
}

std::uint64_t rss_bytes(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::strtoull(line.c_str() + 6, nullptr, 10) * 1024;
  }
  return 0;
}

// ---- environment ---------------------------------------------------------------------

Environment Environment::setup(bool keep_temp) {
  if (sodium_init() < 0) throw std::runtime_error("libsodium failed to initialise");
  Environment env;
  std::string dir = self_dir();
  env.uni = dir + "/uni";
  if (!is_file(env.uni))
    throw std::runtime_error("cannot find the uni binary next to uni-bench: " + env.uni);
  env.module_dir = dir + "/../modules";
  if (!is_file(env.module_dir + "/libbench_big.so")) env.module_dir = UNI_BENCH_MODULE_DIR;
  if (!is_file(env.module_dir + "/libbench_big.so"))
    throw std::runtime_error("cannot find libbench_big.so in " + dir +
                             "/../modules or " UNI_BENCH_MODULE_DIR);

  std::string base =
      std::getenv("TMPDIR") && *std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp";
  std::string templ = base + "/uni-bench.XXXXXX";
  if (!::mkdtemp(templ.data()))
    throw std::runtime_error("mkdtemp " + templ + ": " + std::strerror(errno));
  env.temp = templ;
  env.keep_temp = keep_temp;
  env.authkey = random_hex(16);
  std::snprintf(g_temp_note, sizeof(g_temp_note), "; its temp dir %s is left behind",
                env.temp.c_str());

  // The user's ~/.config/uni and ~/.cache/uni stay untouched: every uni
  // process of the run (and the bench's own boss) uses these.
  ::setenv("UNI_CONFIG_DIR", (env.temp + "/config").c_str(), 1);
  ::setenv("XDG_CONFIG_HOME", (env.temp + "/xdg-config").c_str(), 1);
  ::setenv("XDG_CACHE_HOME", (env.temp + "/cache").c_str(), 1);
  ::unsetenv("UNI_CONNECT");
  ::unsetenv("UNI_AUTHKEY");
  fs::create_directories(env.temp + "/config");
  // Derive (and cache, in UNI_CONFIG_DIR) the CURVE keys once, so that no
  // process of the run pays the memory-hard KDF again.
  uni::derive_curve_keys(env.authkey);
  return env;
}

void Environment::cleanup() const {
  if (temp.empty()) return;
  if (keep_temp) {
    note("kept the temp dir %s", temp.c_str());
    return;
  }
  std::error_code ec;
  fs::remove_all(temp, ec);
}

// ---- cluster -----------------------------------------------------------------------

LocalCluster::LocalCluster(const Environment& env, const std::string& name,
                           const Nats& nats)
    : env_(env), dir_(env.temp + "/" + name) {
  fs::create_directories(dir_);
  address_ = nats.address;
  uni::ConnectOptions options;
  options.connect_timeout = std::chrono::milliseconds(20000);
  options.on_notice = [](const std::string& text) { note("notice: %s", text.c_str()); };
  options.max_outstanding = 2'000'000;
  boss_.emplace(uni::connect(address_, options));
}

LocalCluster::LocalCluster(const Environment& env, const std::string& name,
                           const std::vector<std::string>& manager_args)
    : env_(env), dir_(env.temp + "/" + name) {
  fs::create_directories(dir_);
  std::string out = dir_ + "/manager.out";
  std::vector<std::string> argv = {env_.uni,  "manager",   "--listen",
                                   "tcp://127.0.0.1:0", "--authkey", env_.authkey};
  argv.insert(argv.end(), manager_args.begin(), manager_args.end());
  manager_ = spawn(argv, "manager.log", "manager.out");
  Clock::time_point start = Clock::now();
  for (;;) {
    std::string text = read_text(out);
    if (auto at = text.find("listening on "); at != std::string::npos) {
      auto end = text.find('\n', at);
      if (end != std::string::npos) {
        address_ = text.substr(at + 13, end - at - 13);
        // With --http the next line is "dashboard on URL/".
        if (auto d = text.find("dashboard on ", end); d != std::string::npos) {
          auto d_end = text.find("/\n", d);
          if (d_end != std::string::npos) http_url_ = text.substr(d + 13, d_end - d - 13);
        }
        bool wants_http = std::find(manager_args.begin(), manager_args.end(), "--http") !=
                          manager_args.end();
        if (!wants_http || !http_url_.empty()) break;
      }
    }
    if (!manager_.running() || manager_.try_wait())
      throw std::runtime_error("uni manager exited before listening:\n" + log_tails());
    if (seconds_since(start) > 20)
      throw std::runtime_error("uni manager did not say \"listening on\" within 20 s:\n" +
                               log_tails());
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }

  uni::ConnectOptions options;
  options.authkey = env_.authkey;
  options.connect_timeout = std::chrono::milliseconds(20000);
  options.on_notice = [](const std::string& text) { note("manager notice: %s", text.c_str()); };
  options.max_outstanding = 2'000'000;  // the memory workload queues 1,000,000
  boss_.emplace(uni::connect(address_, options));
}

LocalCluster::Pids::~Pids() {
  for (pid_t pid : pids) unregister_child(pid);
}

LocalCluster::~LocalCluster() {
  boss_.reset();     // says BYE while the manager is still there
  workers_.clear();  // SIGKILL and reap (their executors die with them: PDEATHSIG)
  manager_ = uni::Process();
}

uni::Process LocalCluster::spawn(std::vector<std::string> argv, const std::string& log_name,
                                 const std::string& out_name) {
  auto open = [&](const std::string& name) {
    std::string path = dir_ + "/" + name;
    logs_.push_back(path);
    uni::UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (!fd) throw std::runtime_error("cannot create " + path + ": " + std::strerror(errno));
    return fd;
  };
  uni::UniqueFd err = open(log_name);
  uni::UniqueFd out =
      out_name.empty() ? uni::UniqueFd(::fcntl(err.get(), F_DUPFD_CLOEXEC, 0)) : open(out_name);
  // The children die with the bench even if it is killed outright: setpriv
  // sets their parent-death signal before it execs uni (same pid).
  if (is_file("/usr/bin/setpriv"))
    argv.insert(argv.begin(), {"/usr/bin/setpriv", "--pdeathsig", "KILL", "--"});
  uni::SpawnOptions options;
  options.argv = std::move(argv);
  options.fds = {{out.get(), 1}, {err.get(), 2}};
  options.stdin_null = true;
  options.env = {"XDG_CACHE_HOME=" + dir_ + "/cache"};  // each cluster's workers start cold
  uni::Process p = uni::Process::spawn(options);
  register_child(p.pid());
  pids_.pids.push_back(p.pid());
  return p;
}

void LocalCluster::add_workers(int count, const std::string& isolation) {
  for (int i = 0; i < count; ++i) {
    std::string log = "worker-" + std::to_string(workers_.size() + 1) + "-" + isolation + ".log";
    workers_.push_back(spawn({env_.uni, "worker", "--connect", address_, "--authkey", env_.authkey,
                              "--slots", "1", "--isolation", isolation},
                             log));
  }
  wait_workers(workers_.size());
}

void LocalCluster::check_alive() {
  if (manager_.pid() > 0 && manager_.try_wait())
    throw std::runtime_error("uni manager died:\n" + log_tails());
  for (auto& w : workers_)
    if (auto status = w.try_wait())
      throw std::runtime_error("uni worker " + std::to_string(w.pid()) + " " + status->describe() +
                               ":\n" + log_tails());
}

void LocalCluster::wait_workers(std::size_t expected, std::chrono::seconds timeout) {
  Clock::time_point start = Clock::now();
  for (;;) {
    check_alive();
    if (boss_->status().workers.size() >= expected) return;
    if (Clock::now() - start > timeout)
      throw std::runtime_error("the manager did not list " + std::to_string(expected) +
                               " worker(s) within " + std::to_string(timeout.count()) + " s:\n" +
                               log_tails());
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

Json LocalCluster::status_json() {
  std::string out = dir_ + "/status.json";
  uni::UniqueFd fd(::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  uni::SpawnOptions options;
  options.argv = {env_.uni, "status", "--json", "--connect", address_, "--authkey", env_.authkey};
  options.fds = {{fd.get(), 1}};
  options.stdin_null = true;
  uni::Process p = uni::Process::spawn(options);
  register_child(p.pid());
  Registered registered{p.pid()};
  uni::ExitStatus status = p.wait();
  if (status.signaled || status.code != 0)
    throw std::runtime_error("uni status --json " + status.describe());
  return Json::parse(read_text(out));
}

std::string LocalCluster::log_tails() const {
  std::string out;
  for (const std::string& path : logs_) {
    std::string text = tail(read_text(path), 15);
    if (text.empty()) continue;
    out += "--- " + path + "\n" + text;
    if (out.back() != '\n') out += '\n';
  }
  return out;
}

}  // namespace bench
