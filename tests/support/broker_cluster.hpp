// BrokerCluster: one uni cluster for a behaviour test, on either broker —
// a `uni manager` with its workers (a TestCluster), or workers on a NATS
// server with no manager. The tests in tests/behaviour are written once
// against it and run on both (parameterised by Broker); what a broker does
// differently is asked of it by name (has_manager()), never guessed from
// the address. Commands and bosses reach the cluster through UNI_CONNECT
// (and UNI_AUTHKEY for the manager) in the environment it gives them.
#pragma once

#include <chrono>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <functional>
#include <nlohmann/json.hpp>
#include <uni/uni.hpp>

#include "child_process.hpp"
#include "nats_server.hpp"
#include "temp_dir.hpp"
#include "test_cluster.hpp"

namespace uni::test {

enum class Broker { kManager, kNats };

// "manager" or "nats": the suffix of a parameterised test's name.
std::string to_string(Broker broker);

struct BrokerOptions {
  int workers = 1;
  unsigned slots = 2;
  std::vector<std::string> worker_args;  // extra flags for each initial worker
  // NAME=VALUE for every process of the cluster (UNI_NATS_ACK_WAIT_MS=1000).
  std::vector<std::string> env;
  // NATS only: who may connect to the server, and TLS. A server with
  // either is the test's own, never a shared one.
  NatsServerOptions nats;
  // NATS only: "USER:PASSWORD" put into the address the cluster's
  // processes are given (nats://USER:PASSWORD@HOST:PORT).
  std::string nats_credentials;
};

class BrokerCluster {
 public:
  BrokerCluster(Broker broker, BrokerOptions options = {});
  ~BrokerCluster();
  BrokerCluster(const BrokerCluster&) = delete;
  BrokerCluster& operator=(const BrokerCluster&) = delete;

  Broker broker() const { return broker_; }
  bool has_manager() const { return broker_ == Broker::kManager; }
  const std::string& address() const { return address_; }
  const TempDir& dir() const;
  // The environment every process of the cluster gets: its config and
  // cache dirs, UNI_CONNECT (and UNI_AUTHKEY), BrokerOptions::env.
  std::vector<std::string> env() const;

  // The manager's cluster (manager only; throws std::logic_error on NATS).
  TestCluster& manager_cluster();
  // The NATS server (NATS only).
  NatsCluster& nats();

  std::size_t worker_count() const;
  ChildProcess& worker(std::size_t i);
  // Starts another worker (`uni worker --slots N EXTRA...`); with `wait`,
  // returns once the cluster's status lists it.
  ChildProcess& add_worker(unsigned slots, const std::vector<std::string>& extra = {},
                           bool wait = true);
  // Waits until the status lists a worker whose supervisor has this pid
  // (asked through the C++ API, no process spawned). False and a test
  // failure on timeout.
  bool wait_for_worker(pid_t pid, std::chrono::milliseconds timeout = std::chrono::seconds(30));

  // `uni ARGS...` with the cluster's environment.
  CommandResult uni(const std::vector<std::string>& args, const CommandOptions& options = {});
  // Any program (argv[0] a path) with the cluster's environment.
  CommandResult run(const std::vector<std::string>& argv, const CommandOptions& options = {});
  // A long-running program with the cluster's environment.
  ChildProcess start(const std::string& name, const std::vector<std::string>& argv,
                     const std::vector<std::string>& extra_env = {});
  // `uni status --json`; a failure fails the test and returns null.
  nlohmann::json status();
  // The same document asked through the C++ API from this process (no
  // process spawned: for polls); null if the broker cannot be reached.
  nlohmann::json api_status();
  // A boss in this test process through the C++ API.
  uni::Cluster connect(uni::ConnectOptions options = {});

 private:
  Broker broker_;
  BrokerOptions options_;
  std::optional<TestCluster> manager_;
  std::unique_ptr<NatsCluster> nats_;
  std::optional<TempDir> nats_dir_;
  std::string address_;
  std::deque<ChildProcess> workers_;  // NATS: the cluster's own (the manager's are TestCluster's)
};

// The brokers a behaviour test runs on, and its name suffix:
// INSTANTIATE_TEST_SUITE_P(Brokers, Suite, kBothBrokers, BrokerName()).
inline const auto kBothBrokers = ::testing::Values(Broker::kManager, Broker::kNats);
struct BrokerName {
  std::string operator()(const ::testing::TestParamInfo<Broker>& info) const {
    return to_string(info.param);
  }
};

// The first line of a command's stdout (an id printed by spawn or submit).
std::string first_line(const CommandResult& r);

// Polls `condition` every 20 ms until it holds or `timeout` passes.
bool eventually(const std::function<bool()>& condition,
                std::chrono::milliseconds timeout = std::chrono::seconds(20));

}  // namespace uni::test
