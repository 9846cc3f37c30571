// The manager's HTTP routes over cpp-httplib (see http_server.hpp). Two
// request threads: a dashboard or a Prometheus scraper polls about once a
// second, and every request is answered from a snapshot, so requests cost
// the manager's loop nothing but the snapshots themselves.
#include "manager/http_server.hpp"

#include <httplib.h>

#include <atomic>
#include <stdexcept>
#include <thread>

#include "common/json_msgpack.hpp"
#include "common/log.hpp"
#include "manager/dashboard_assets.hpp"

namespace uni::manager {

namespace {

struct HostPort {
  std::string host;
  int port = 0;
};

HostPort parse_address(const std::string& address) {
  auto bad = [&](const std::string& why) {
    return std::runtime_error("--http " + address + ": " + why +
                              " (expected HOST:PORT, e.g. 127.0.0.1:8080, or a port)");
  };
  HostPort out{"127.0.0.1", 0};
  std::string port = address;
  if (std::size_t colon = address.rfind(':'); colon != std::string::npos) {
    out.host = address.substr(0, colon);
    port = address.substr(colon + 1);
    if (out.host.size() >= 2 && out.host.front() == '[' && out.host.back() == ']')
      out.host = out.host.substr(1, out.host.size() - 2);
    if (out.host.empty()) throw bad("no host");
  }
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos)
    throw bad("not a port: '" + port + "'");
  out.port = std::stoi(port);
  if (out.port > 65535) throw bad("port out of range");
  return out;
}

bool is_loopback(const std::string& host) {
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

// The JSON of `uni status --json`: the STATUS_REPLY map converted the same way.
std::string status_json(const proto::StatusReport& report) {
  std::string map = proto::pack_status_report(report);
  msgpack::object_handle h = detail::unpack_checked(map.data(), map.size());
  return dump_json(to_json(h.get()));
}

std::string history_json(const MetricsSnapshot& s) {
  nlohmann::json j = {{"interval_s", 1}, {"tasks_per_second", s.per_second}};
  return dump_json(j);
}

}  // namespace

class HttpServer::Impl {
 public:
  Impl(const std::string& address, SnapshotBoard& board) : board_(board) {
    HostPort where = parse_address(address);
    // cpp-httplib takes ownership of the queue it is handed (its API's new).
    server_.new_task_queue = [] { return new httplib::ThreadPool(2); };
    server_.set_keep_alive_max_count(100);
    server_.set_read_timeout(std::chrono::seconds(5));
    routes();
    // cpp-httplib's default options set SO_REUSEPORT, with which a second
    // manager binds the same port and the kernel splits the requests between
    // two clusters' dashboards. SO_REUSEADDR alone still refuses a port
    // someone listens on (and allows one in TIME_WAIT).
    server_.set_socket_options([](int sock) {
      int yes = 1;
      ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    });
    int port = where.port;
    if (port == 0) port = server_.bind_to_any_port(where.host);
    else if (!server_.bind_to_port(where.host, port)) port = -1;
    if (port <= 0)
      throw std::runtime_error("--http " + address + ": cannot listen on " + where.host + ":" +
                               std::to_string(where.port) +
                               " (address in use, or not an address of this host)");
    std::string host =
        where.host.find(':') != std::string::npos ? "[" + where.host + "]" : where.host;
    url_ = "http://" + host + ":" + std::to_string(port);
    if (!is_loopback(where.host))
      log::warn(
          "the dashboard and /metrics are served on {} without authentication: anyone who "
          "can reach it sees the cluster's workers, functions and task errors",
          url_);
    thread_ = std::thread([this] {
      server_.listen_after_bind();
      listening_over_ = true;
    });
  }

  ~Impl() {
    // stop() before the thread is in its accept loop would not end it.
    for (int i = 0; i < 2000 && !server_.is_running() && !listening_over_; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    server_.stop();
    thread_.join();
  }

  const std::string& url() const { return url_; }

 private:
  void routes() {
    // Answered from a snapshot at most 500 ms old (SnapshotBoard).
    auto with_snapshot = [this](auto&& body) {
      return [this, body](const httplib::Request&, httplib::Response& res) {
        std::shared_ptr<const MetricsSnapshot> s = board_.read(std::chrono::milliseconds(2000));
        if (!s) {
          res.status = 503;
          res.set_content("the manager has not published its state yet; try again\n",
                          "text/plain; charset=utf-8");
          return;
        }
        res.set_header("Cache-Control", "no-store");
        body(*s, res);
      };
    };
    server_.Get("/metrics", with_snapshot([](const MetricsSnapshot& s, httplib::Response& res) {
                  res.set_content(prometheus_text(s), "text/plain; version=0.0.4; charset=utf-8");
                }));
    server_.Get("/api/status", with_snapshot([](const MetricsSnapshot& s, httplib::Response& res) {
                  res.set_content(status_json(s.status), "application/json");
                }));
    server_.Get("/api/history", with_snapshot([](const MetricsSnapshot& s, httplib::Response& res) {
                  res.set_content(history_json(s), "application/json");
                }));
    server_.Get(R"(/([a-z.]*))", [](const httplib::Request& req, httplib::Response& res) {
      const DashboardAsset* asset = find_dashboard_asset(req.path);
      if (!asset) {
        res.status = 404;
        res.set_content("no such page: " + req.path + "\n", "text/plain; charset=utf-8");
        return;
      }
      res.set_content(std::string(asset->body), std::string(asset->content_type).c_str());
    });
  }

  SnapshotBoard& board_;
  httplib::Server server_;
  std::string url_;
  std::atomic<bool> listening_over_{false};
  std::thread thread_;
};

HttpServer::HttpServer(const std::string& address, SnapshotBoard& board)
    : impl_(std::make_unique<Impl>(address, board)) {}
HttpServer::~HttpServer() = default;
const std::string& HttpServer::url() const { return impl_->url(); }

}  // namespace uni::manager
