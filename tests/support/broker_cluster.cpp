// BrokerCluster: a TestCluster, or a NATS server and workers, behind one face.
#include "broker_cluster.hpp"

#include <stdlib.h>

#include <stdexcept>
#include <thread>

namespace uni::test {

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

}  // namespace

std::string to_string(Broker broker) { return broker == Broker::kManager ? "manager" : "nats"; }

std::string first_line(const CommandResult& r) { return r.out.substr(0, r.out.find('\n')); }

bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (!condition()) {
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(20ms);
  }
  return true;
}

BrokerCluster::BrokerCluster(Broker broker, BrokerOptions options)
    : broker_(broker), options_(std::move(options)) {
  if (broker_ == Broker::kManager) {
    manager_.emplace(ClusterOptions{.workers = options_.workers,
                                    .slots = options_.slots,
                                    .worker_args = options_.worker_args,
                                    .env = options_.env});
    address_ = manager_->address();
    return;
  }
  nats_ = std::make_unique<NatsCluster>(1, options_.nats);
  nats_dir_.emplace("uni-nats");
  std::filesystem::create_directories(*nats_dir_ / "config");
  std::filesystem::create_directories(*nats_dir_ / "cache");
  address_ = nats_->address();
  if (!options_.nats_credentials.empty()) {
    const std::size_t host = address_.find("://") + 3;
    address_.insert(host, options_.nats_credentials + "@");
  }
  std::vector<pid_t> pids;
  for (int i = 0; i < options_.workers; ++i)
    pids.push_back(add_worker(options_.slots, options_.worker_args, false).pid());
  for (pid_t pid : pids)
    if (!wait_for_worker(pid)) break;
}

BrokerCluster::~BrokerCluster() {
  for (auto& w : workers_) w.kill(SIGKILL);
  // connect() put them in this process's environment; the next test of the
  // same process (a test binary run by hand) must not inherit them.
  if (nats_)
    for (const std::string& e : options_.env) ::unsetenv(e.substr(0, e.find('=')).c_str());
}

const TempDir& BrokerCluster::dir() const { return manager_ ? manager_->dir() : *nats_dir_; }

std::vector<std::string> BrokerCluster::env() const {
  if (manager_) {
    std::vector<std::string> env = manager_->base_env();
    env.push_back("UNI_CONNECT=" + address_);
    env.push_back("UNI_AUTHKEY=" + manager_->authkey());
    return env;
  }
  std::vector<std::string> env = {"UNI_CONFIG_DIR=" + (*nats_dir_ / "config").string(),
                                  "XDG_CACHE_HOME=" + (*nats_dir_ / "cache").string(),
                                  "UNI_CONNECT=" + address_};
  env.insert(env.end(), options_.env.begin(), options_.env.end());
  return env;
}

TestCluster& BrokerCluster::manager_cluster() {
  if (!manager_) throw std::logic_error("a cluster on NATS has no manager");
  return *manager_;
}

NatsCluster& BrokerCluster::nats() {
  if (!nats_) throw std::logic_error("a manager's cluster has no NATS server");
  return *nats_;
}

ChildProcess& BrokerCluster::worker(std::size_t i) {
  return manager_ ? manager_->worker(i) : workers_.at(i);
}

std::size_t BrokerCluster::worker_count() const {
  return manager_ ? manager_->worker_count() : workers_.size();
}

ChildProcess& BrokerCluster::add_worker(unsigned slots, const std::vector<std::string>& extra,
                                        bool wait) {
  if (manager_) return manager_->add_worker(slots, extra, wait);
  std::vector<std::string> argv = {uni_binary(), "worker",  "--connect",
                                   address_,     "--slots", std::to_string(slots)};
  argv.insert(argv.end(), extra.begin(), extra.end());
  ChildProcess& w = workers_.emplace_back(start("worker", argv));
  if (wait) wait_for_worker(w.pid());
  return w;
}

bool BrokerCluster::wait_for_worker(pid_t pid, std::chrono::milliseconds timeout) {
  if (manager_) return manager_->wait_for_worker(pid, timeout);
  ChildProcess* w = nullptr;
  for (auto& candidate : workers_)
    if (candidate.pid() == pid) w = &candidate;
  // Its log says when it has registered; then the status lists it.
  if (w != nullptr && !w->wait_for_stderr("connected to the NATS cluster", timeout)) {
    ADD_FAILURE() << "worker " << pid << " did not connect to " << address_ << "; its stderr:\n"
                  << w->read_stderr();
    return false;
  }
  return wait_for_listed_worker([this] { return connect(); }, pid, timeout);
}

CommandResult BrokerCluster::run(const std::vector<std::string>& argv,
                                 const CommandOptions& options) {
  if (manager_) return manager_->run(argv, options);
  return run_command(argv, env(), dir().path(), options);
}

CommandResult BrokerCluster::uni(const std::vector<std::string>& args,
                                 const CommandOptions& options) {
  std::vector<std::string> argv = {uni_binary()};
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv, options);
}

ChildProcess BrokerCluster::start(const std::string& name, const std::vector<std::string>& argv,
                                  const std::vector<std::string>& extra_env) {
  if (manager_) return manager_->start(name, argv, extra_env);
  ChildOptions options;
  options.argv = argv;
  options.env = merge_env(env(), extra_env);
  options.output_dir = dir().path();
  options.name = name;
  return ChildProcess::start(options);
}

nlohmann::json BrokerCluster::status() {
  if (manager_) return manager_->status();
  return status_json_of(uni({"status", "--json"}, {.timeout = 15s}));
}

nlohmann::json BrokerCluster::api_status() {
  if (manager_) return manager_->api_status();
  return api_status_of([this](uni::ConnectOptions options) { return connect(std::move(options)); });
}

uni::Cluster BrokerCluster::connect(uni::ConnectOptions options) {
  if (manager_) return manager_->connect(std::move(options));
  ::setenv("UNI_CONFIG_DIR", (*nats_dir_ / "config").c_str(), 1);
  ::setenv("XDG_CACHE_HOME", (*nats_dir_ / "cache").c_str(), 1);
  for (const std::string& e : options_.env) {
    const std::size_t eq = e.find('=');
    ::setenv(e.substr(0, eq).c_str(), e.substr(eq + 1).c_str(), 1);
  }
  return uni::connect(address_, options);
}

}  // namespace uni::test
