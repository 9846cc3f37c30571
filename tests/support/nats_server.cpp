// NatsServer and NatsCluster: config files, processes, readiness and leaders.
#include "nats_server.hpp"

#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <thread>

#include "nats/client/connection.hpp"
#include "nats/client/error.hpp"
#include "nats/client/jetstream.hpp"
#include "net.hpp"

namespace uni::test {

namespace {

using namespace std::chrono_literals;

std::string quoted(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string auth_block(const NatsAuth& auth) {
  if (!auth.nkeys.empty()) {
    std::string out = "authorization {\n  users: [\n";
    for (const std::string& key : auth.nkeys) out += "    { nkey: " + key + " }\n";
    return out + "  ]\n}\n";
  }
  if (!auth.token.empty()) return "authorization { token: " + quoted(auth.token) + " }\n";
  if (!auth.user.empty())
    return "authorization { user: " + quoted(auth.user) + ", password: " + quoted(auth.password) +
           " }\n";
  return "";
}

// nats-server exits at once on a bad config, but a good one may still be
// binding its ports: wait for the log line that says it accepts clients.
constexpr auto kStartTimeout = 20s;

// Debian installs nats-server in /usr/sbin, which is not on every user's PATH;
// $UNI_NATS_SERVER names another build.
std::string server_binary() {
  if (const char* given = std::getenv("UNI_NATS_SERVER"); given != nullptr && *given != '\0')
    return given;
  for (const char* path :
       {"/usr/sbin/nats-server", "/usr/bin/nats-server", "/usr/local/bin/nats-server"})
    if (std::filesystem::exists(path)) return path;
  throw std::runtime_error(
      "nats-server is not installed (make deps installs Debian's nats-server)");
}

}  // namespace

NatsServer::NatsServer(const std::filesystem::path& dir, const std::string& name,
                       const NatsServerOptions& options, int cluster_port,
                       const std::vector<int>& route_ports)
    : dir_(dir / name), name_(name), port_(free_tcp_port()), tls_(!options.tls.cert_file.empty()) {
  std::filesystem::create_directories(dir_ / "store");
  std::string config;
  config += "server_name: " + quoted(name) + "\n";
  config += "listen: \"127.0.0.1:" + std::to_string(port_) + "\"\n";
  config += "jetstream { store_dir: " + quoted((dir_ / "store").string()) +
            ", max_memory_store: 256MB, max_file_store: 2GB }\n";
  if (options.max_payload > 0)
    config += "max_payload: " + std::to_string(options.max_payload) + "\n";
  config += auth_block(options.auth);
  if (!options.extra_config.empty()) config += options.extra_config + "\n";
  if (tls_) {
    config += "tls {\n  cert_file: " + quoted(options.tls.cert_file) +
              "\n  key_file: " + quoted(options.tls.key_file) + "\n";
    if (!options.tls.ca_file.empty()) config += "  ca_file: " + quoted(options.tls.ca_file) + "\n";
    if (options.tls.verify_clients) config += "  verify: true\n";
    config += "  timeout: 2\n}\n";
  }
  if (cluster_port > 0) {
    config += "cluster {\n  name: uni-test\n  listen: \"127.0.0.1:" + std::to_string(cluster_port) +
              "\"\n  routes: [\n";
    for (int route : route_ports)
      if (route != cluster_port)
        config += "    \"nats-route://127.0.0.1:" + std::to_string(route) + "\"\n";
    config += "  ]\n}\n";
  }
  config_ = dir_ / "nats.conf";
  std::ofstream(config_) << config;
  start();
}

void NatsServer::start() {
  ++starts_;
  process_ = ChildProcess::start({.argv = {server_binary(), "-c", config_.string()},
                                  .output_dir = dir_,
                                  .name = "nats-server." + std::to_string(starts_)});
  if (!process_.wait_for_stderr("Server is ready", kStartTimeout))
    throw std::runtime_error("nats-server " + name_ + " did not start:\n" + log());
}

std::string NatsServer::url() const {
  return std::string(tls_ ? "tls" : "nats") + "://127.0.0.1:" + std::to_string(port_);
}

bool NatsServer::running() { return process_.valid() && process_.running(); }

void NatsServer::kill() {
  if (!process_.valid()) return;
  process_.kill(SIGKILL);
  process_.wait_for(10s);
}

void NatsServer::pause() { process_.signal(SIGSTOP); }
void NatsServer::resume() { process_.signal(SIGCONT); }

void NatsServer::restart() {
  kill();
  start();
}

std::string NatsServer::log() const {
  return process_.valid() ? process_.read_stderr() + process_.read_stdout() : "";
}

NatsCluster::NatsCluster(int nodes, const NatsServerOptions& options) : dir_("uni-nats") {
  if (nodes == 1) {
    nodes_.push_back(std::make_unique<NatsServer>(dir_.path(), "n1", options));
  } else {
    std::vector<int> routes;
    for (int i = 0; i < nodes; ++i) routes.push_back(free_tcp_port());
    for (int i = 0; i < nodes; ++i)
      nodes_.push_back(std::make_unique<NatsServer>(dir_.path(), "n" + std::to_string(i + 1),
                                                    options, routes[static_cast<std::size_t>(i)],
                                                    routes));
  }
}

NatsCluster::~NatsCluster() = default;

std::string NatsCluster::address() const { return address_starting_at(0); }

std::string NatsCluster::address_starting_at(int first) const {
  std::string out;
  for (int k = 0; k < static_cast<int>(nodes_.size()); ++k) {
    if (!out.empty()) out += ',';
    out += nodes_[static_cast<std::size_t>((first + k) % nodes_.size())]->url();
  }
  return out;
}

int NatsCluster::index_of(const std::string& name) const {
  for (std::size_t i = 0; i < nodes_.size(); ++i)
    if (nodes_[i]->name() == name) return static_cast<int>(i);
  return -1;
}

void NatsCluster::wait_jetstream_ready(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (auto& node : nodes_) {
    if (!node->running()) continue;
    std::string last_error;
    while (true) {
      try {
        nats::Connection connection = nats::Connection::connect({.address = node->url()});
        // $JS.API.INFO answers once the node knows the meta leader (a cluster)
        // or has JetStream up (a single server).
        nats::Message reply = connection.request("$JS.API.INFO", "", 2s);
        std::string body(reply.data());
        if (body.find("\"error\"") == std::string::npos) break;
        last_error = body;
      } catch (const std::exception& e) {
        last_error = e.what();
      }
      if (std::chrono::steady_clock::now() > deadline)
        throw std::runtime_error("JetStream not ready on " + node->name() + ": " + last_error +
                                 "\n" + logs());
      std::this_thread::sleep_for(100ms);
    }
  }
}

int NatsCluster::stream_leader(const std::string& stream, const std::string& client_address) {
  try {
    nats::Connection connection =
        nats::Connection::connect({.address = client_address.empty() ? address() : client_address});
    nats::JetStream js(connection, 2s);
    std::optional<nats::StreamState> state = js.stream_state(stream);
    if (!state) return -1;
    if (state->leader.empty()) return nodes_.size() == 1 ? 0 : -1;
    return index_of(state->leader);
  } catch (const nats::NatsError&) {
    return -1;  // between leaders, the stream info request goes unanswered
  }
}

int NatsCluster::wait_stream_leader(const std::string& stream, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    std::string running;
    for (auto& node : nodes_)
      if (node->running()) running += (running.empty() ? "" : ",") + node->url();
    int leader = stream_leader(stream, running);
    if (leader >= 0) return leader;
    if (std::chrono::steady_clock::now() > deadline)
      throw std::runtime_error("stream " + stream + " has no leader\n" + logs());
    std::this_thread::sleep_for(100ms);
  }
}

std::string NatsCluster::logs() const {
  std::string out;
  for (const auto& node : nodes_) out += "---- " + node->name() + " ----\n" + node->log();
  return out;
}

}  // namespace uni::test
