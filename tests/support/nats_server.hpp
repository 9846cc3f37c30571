// Real `nats-server` processes for the NATS tests: one server or a
// cluster of nodes on loopback, each with JetStream on, its store in a private
// temp dir and free ports, started from a generated config file. Nodes can be
// killed with SIGKILL and restarted on the same ports and store (a node that
// comes back), and the cluster tells which node leads a stream. Everything is
// killed when the fixture goes, also when a test fails.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "child_process.hpp"
#include "temp_dir.hpp"

namespace uni::test {

// Who may connect, and how. Empty fields: no such restriction.
struct NatsAuth {
  std::string user, password;
  std::string token;
  std::vector<std::string> nkeys;  // user public keys ("U...") allowed in
};

struct NatsTls {
  std::string cert_file, key_file;  // the server's certificate (PEM)
  std::string ca_file;              // CA of client certificates
  bool verify_clients = false;      // mutual TLS: a client must present a certificate
};

struct NatsServerOptions {
  NatsAuth auth;
  NatsTls tls;                   // TLS on when cert_file is set
  std::int64_t max_payload = 0;  // 0: the server's default (1 MB)
  // Appended to the configuration as it is (`include /path/authorization.conf`
  // for the block `uni nats-config` writes).
  std::string extra_config;
};

class NatsServer {
 public:
  // Starts the server and waits until it accepts clients. `cluster_routes`
  // empty: a lone server. Throws std::runtime_error (with the server's log)
  // if it does not come up.
  NatsServer(const std::filesystem::path& dir, const std::string& name,
             const NatsServerOptions& options, int cluster_port = 0,
             const std::vector<int>& route_ports = {});

  const std::string& name() const { return name_; }
  int port() const { return port_; }
  std::string url() const;  // nats://127.0.0.1:PORT (tls:// when TLS is on)
  bool running();

  void kill();     // SIGKILL, reaped
  void restart();  // same ports, same store, waits until it accepts clients
  // SIGSTOP and SIGCONT: a node that stops answering while its connections
  // stay open (a hung host), and comes back.
  void pause();
  void resume();
  std::string log() const;

 private:
  void start();
  std::filesystem::path dir_;
  std::string name_;
  int port_ = 0;
  std::filesystem::path config_;
  bool tls_ = false;
  ChildProcess process_;
  int starts_ = 0;
};

class NatsCluster {
 public:
  // nodes == 1: a single server without clustering.
  explicit NatsCluster(int nodes = 1, const NatsServerOptions& options = {});
  ~NatsCluster();

  int size() const { return static_cast<int>(nodes_.size()); }
  NatsServer& node(int i) { return *nodes_.at(static_cast<std::size_t>(i)); }
  // Every node's URL, comma-separated: the address a uni process is given.
  std::string address() const;
  // The same, starting with node `first` (clients prefer the first server).
  std::string address_starting_at(int first) const;
  // The index of the node whose server name is `name`; -1 if none.
  int index_of(const std::string& name) const;

  // Waits until JetStream answers on every running node (a cluster has
  // elected its meta leader). Throws std::runtime_error with the logs if not.
  void wait_jetstream_ready(std::chrono::milliseconds timeout = std::chrono::seconds(30));
  // The index of the node leading `stream`, asked through a client connected
  // to every node; -1 if the stream has no leader now.
  int stream_leader(const std::string& stream, const std::string& client_address = "");
  // Waits until `stream` has a leader and returns its index.
  int wait_stream_leader(const std::string& stream,
                         std::chrono::milliseconds timeout = std::chrono::seconds(30));

  const TempDir& dir() const { return dir_; }
  std::string logs() const;  // every node's log, for assertion messages

 private:
  TempDir dir_;
  std::vector<std::unique_ptr<NatsServer>> nodes_;
};

}  // namespace uni::test
