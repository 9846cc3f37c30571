// The manager's HTTP server (see http_server.hpp): one thread, one poll loop
// over the listening socket and at most kMaxConnections connections, each
// holding at most one request head in and one response out. Every request
// is answered from a snapshot, so requests cost the manager's loop nothing
// but the snapshots themselves. cpp-httplib, which served these routes
// before, reads request lines and headers whole before it checks their
// length and gives a slow client a thread for as long as it trickles bytes:
// fine behind a proxy, not on a port anyone may reach.
#include "manager/http_server.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sodium.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <list>
#include <stdexcept>
#include <thread>

#include "common/json_msgpack.hpp"
#include "common/log.hpp"
#include "common/unique_fd.hpp"
#include "common/wake_fd.hpp"
#include "manager/dashboard_assets.hpp"
#include "manager/http_request.hpp"

namespace uni::manager {

namespace {

using SteadyClock = std::chrono::steady_clock;

// A request head must arrive whole within this of the connection's start or
// of the previous response: a client that trickles it loses its connection.
constexpr auto kRequestTimeout = std::chrono::seconds(5);
// A response must be taken within this.
constexpr auto kWriteTimeout = std::chrono::seconds(10);
constexpr int kMaxRequestsPerConnection = 100;
// How long a request waits for the loop's first snapshot.
constexpr auto kSnapshotPatience = std::chrono::milliseconds(500);
constexpr std::string_view kTokenCookie = "uni_token";

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

bool is_ip_literal(const std::string& host) {
  unsigned char buffer[sizeof(in6_addr)];
  return ::inet_pton(AF_INET, host.c_str(), buffer) == 1 ||
         ::inet_pton(AF_INET6, host.c_str(), buffer) == 1;
}

// The host part of a Host header: "name:8080" -> "name", "[::1]:80" -> "::1".
std::string host_of(std::string_view header) {
  if (!header.empty() && header.front() == '[') {
    std::size_t close = header.find(']');
    return close == std::string_view::npos ? std::string()
                                           : std::string(header.substr(1, close - 1));
  }
  std::size_t colon = header.rfind(':');
  if (colon != std::string_view::npos) header = header.substr(0, colon);
  std::string out(header);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Compares in a time that does not depend on where the two differ.
bool same_secret(std::string_view a, std::string_view b) {
  return a.size() == b.size() && !a.empty() && sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

// The JSON of `uni status --json`: the STATUS_REPLY map converted the same way.
std::string status_json(proto::StatusReport report, bool redact) {
  if (redact)
    for (proto::StatusReport::Failure& f : report.recent_failures) f.error = "[redacted]";
  std::string map = proto::pack_status_report(report);
  msgpack::object_handle h = detail::unpack_checked(map.data(), map.size());
  return dump_json(to_json(h.get()));
}

std::string history_json(const MetricsSnapshot& s) {
  nlohmann::json j = {{"interval_s", 1}, {"tasks_per_second", s.per_second}};
  return dump_json(j);
}

const char* reason_phrase(int status) {
  switch (status) {
    case 200: return "OK";
    case 303: return "See Other";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 413: return "Content Too Large";
    case 431: return "Request Header Fields Too Large";
    case 503: return "Service Unavailable";
  }
  return "Error";
}

struct Response {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  bool close = false;  // the connection ends after it
};

Response text(int status, std::string body, bool close = false) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  r.close = close;
  return r;
}

struct Connection {
  UniqueFd fd;
  std::string in;   // what the client sent and was not yet answered: at most one head
  std::string out;  // the response being written
  std::size_t sent = 0;
  bool close_after = false;
  int served = 0;
  SteadyClock::time_point deadline;
};

}  // namespace

class HttpServer::Impl {
 public:
  Impl(HttpOptions options, SnapshotBoard& board) : options_(std::move(options)), board_(board) {
    HostPort where = parse_address(options_.address);
    if (!options_.authorize && !options_.token.empty()) {
      std::string token = options_.token;
      options_.authorize = [token](std::string_view given) { return same_secret(given, token); };
    }
    if (!options_.authorize && !is_loopback(where.host))
      throw std::runtime_error(
          "--http " + options_.address +
          ": serving beyond loopback needs a bearer token (--http-token-file FILE): the "
          "dashboard shows the cluster's hosts, functions and task errors");
    bind(where);
    thread_ = std::thread([this] { serve(); });
  }

  ~Impl() {
    stop_.signal();
    thread_.join();
  }

  const std::string& url() const { return url_; }

 private:
  void bind(const HostPort& where) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    addrinfo* found = nullptr;
    std::string port = std::to_string(where.port);
    auto cannot = [&](const std::string& why) {
      return std::runtime_error("--http " + options_.address + ": cannot listen on " + where.host +
                                ":" + port + " (" + why + ")");
    };
    if (int rc = ::getaddrinfo(where.host.c_str(), port.c_str(), &hints, &found); rc != 0)
      throw cannot(std::string("not an address of this host: ") + ::gai_strerror(rc));
    std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> list(found, ::freeaddrinfo);
    std::string last_error = "no address";
    for (addrinfo* a = found; a; a = a->ai_next) {
      UniqueFd fd(::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
      if (!fd) continue;
      int one = 1;
      ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
      if (::bind(fd.get(), a->ai_addr, a->ai_addrlen) != 0 || ::listen(fd.get(), 128) != 0) {
        last_error = std::strerror(errno);
        continue;
      }
      sockaddr_storage bound{};
      socklen_t length = sizeof(bound);
      ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&bound), &length);
      int bound_port =
          ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                            : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
      std::string host =
          where.host.find(':') != std::string::npos ? "[" + where.host + "]" : where.host;
      url_ = "http://" + host + ":" + std::to_string(bound_port);
      listener_ = std::move(fd);
      return;
    }
    throw cannot(last_error);
  }

  void serve() {
    std::vector<pollfd> fds;
    for (;;) {
      fds.clear();
      fds.push_back({stop_.fd(), POLLIN, 0});
      fds.push_back({listener_.get(), POLLIN, 0});
      SteadyClock::time_point now = SteadyClock::now();
      SteadyClock::time_point wake = now + std::chrono::seconds(1);
      for (Connection& c : connections_) {
        fds.push_back({c.fd.get(), static_cast<short>(c.out.empty() ? POLLIN : POLLOUT), 0});
        wake = std::min(wake, c.deadline);
      }
      auto timeout = std::chrono::duration_cast<std::chrono::milliseconds>(wake - now).count();
      if (::poll(fds.data(), fds.size(), static_cast<int>(std::max<long long>(timeout, 0))) < 0 &&
          errno != EINTR) {
        log::error("HTTP server: poll failed: {}", std::strerror(errno));
        return;
      }
      if (fds[0].revents) return;
      if (fds[1].revents & POLLIN) accept_all();
      now = SteadyClock::now();
      std::size_t i = 2;
      for (auto it = connections_.begin(); it != connections_.end(); ++i) {
        // Connections accepted in this turn are after the polled ones.
        short revents = i < fds.size() && fds[i].fd == it->fd.get() ? fds[i].revents : 0;
        bool keep = true;
        if (revents & (POLLERR | POLLNVAL)) keep = false;
        else if (revents & POLLOUT) keep = write_some(*it, now);
        else if (revents & (POLLIN | POLLHUP)) keep = read_some(*it, now);
        if (keep && now >= it->deadline) keep = false;  // too slow: a request or a reader
        it = keep ? std::next(it) : connections_.erase(it);
      }
    }
  }

  void accept_all() {
    for (;;) {
      UniqueFd fd(::accept4(listener_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
      if (!fd) {
        if (errno == EMFILE || errno == ENFILE)
          log::limited(spdlog::level::warn, "http-accept", "HTTP server: cannot accept: {}",
                       std::strerror(errno));
        return;
      }
      if (connections_.size() >= kMaxConnections && !evict_the_slowest()) {
        // Every connection is busy with a response: its own descriptor
        // budget is spent (the manager's port shares the process's).
        static constexpr std::string_view kBusy =
            "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nRetry-After: 1\r\n"
            "Connection: close\r\n\r\n";
        [[maybe_unused]] ssize_t n =
            ::send(fd.get(), kBusy.data(), kBusy.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
        log::limited(spdlog::level::warn, "http-full",
                     "HTTP server: {} connections busy, its limit: refused one", kMaxConnections);
        continue;
      }
      Connection& c = connections_.emplace_back();
      c.fd = std::move(fd);
      c.deadline = SteadyClock::now() + kRequestTimeout;
    }
  }

  // Makes room for a new connection by closing the one that has waited
  // longest for a request head: a client that sends its request at once
  // is served before it could be the oldest, one that trickles is not.
  bool evict_the_slowest() {
    auto slowest = connections_.end();
    for (auto it = connections_.begin(); it != connections_.end(); ++it)
      if (it->out.empty() && (slowest == connections_.end() || it->deadline < slowest->deadline))
        slowest = it;
    if (slowest == connections_.end()) return false;
    connections_.erase(slowest);
    log::limited(spdlog::level::warn, "http-evicted",
                 "HTTP server: {} connections open, its limit: closed the one idle longest",
                 kMaxConnections);
    return true;
  }

  // False: close the connection.
  bool read_some(Connection& c, SteadyClock::time_point now) {
    char buffer[4096];
    ssize_t n = ::recv(c.fd.get(), buffer, sizeof(buffer), 0);
    if (n == 0) return false;
    if (n < 0) return errno == EAGAIN || errno == EINTR;
    // Never more than one head: what follows it waits in the kernel.
    c.in.append(buffer, static_cast<std::size_t>(std::min<ssize_t>(n, kMaxRequestHead + 1)));
    return answer(c, now);
  }

  // Answers the request at the start of c.in, if a whole head is there.
  bool answer(Connection& c, SteadyClock::time_point now) {
    HttpRequest request;
    HeadResult head = parse_request_head(c.in, request);
    Response response;
    switch (head.outcome) {
      case HeadParse::kIncomplete: return true;
      case HeadParse::kTooLarge: response = text(431, head.error + "\n", true); break;
      case HeadParse::kBad: response = text(400, head.error + "\n", true); break;
      case HeadParse::kComplete:
        c.in.erase(0, head.head_size);
        response = route(request);
        if (request.minor_version == 0 || ++c.served >= kMaxRequestsPerConnection)
          response.close = true;
        if (const std::string* connection = request.header("connection");
            connection && *connection == "close")
          response.close = true;
        if (request.method == "HEAD") {
          response.headers.emplace_back("Content-Length", std::to_string(response.body.size()));
          response.body.clear();
        }
        break;
    }
    c.out = serialize(response, request.method == "HEAD");
    c.sent = 0;
    c.close_after = response.close;
    c.deadline = now + kWriteTimeout;
    return write_some(c, now);
  }

  bool write_some(Connection& c, SteadyClock::time_point now) {
    while (c.sent < c.out.size()) {
      ssize_t n = ::send(c.fd.get(), c.out.data() + c.sent, c.out.size() - c.sent,
                         MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n < 0) return errno == EAGAIN || errno == EINTR;
      c.sent += static_cast<std::size_t>(n);
    }
    c.out.clear();
    c.sent = 0;
    if (c.close_after) return false;
    c.deadline = now + kRequestTimeout;
    // A pipelined request already read is answered now.
    return c.in.empty() || answer(c, now);
  }

  static std::string serialize(const Response& r, bool head) {
    std::string out = "HTTP/1.1 " + std::to_string(r.status) + " " + reason_phrase(r.status) +
                      "\r\nContent-Type: " + r.content_type;
    bool has_length = false;
    for (const auto& [name, value] : r.headers) {
      out += "\r\n" + name + ": " + value;
      has_length |= name == "Content-Length";
    }
    if (!has_length && !head) out += "\r\nContent-Length: " + std::to_string(r.body.size());
    out += "\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\nConnection: ";
    out += r.close ? "close" : "keep-alive";
    out += "\r\n\r\n";
    out += r.body;
    return out;
  }

  bool host_allowed(const HttpRequest& request) const {
    const std::string* header = request.header("host");
    if (!header) return request.minor_version == 0;  // HTTP/1.0 may omit it
    std::string host = host_of(*header);
    if (host == "localhost" || is_ip_literal(host)) return true;
    for (const std::string& name : options_.hosts)
      if (host_of(name) == host) return true;
    return false;
  }

  std::string token_of(const HttpRequest& request) const {
    if (const std::string* auth = request.header("authorization");
        auth && auth->size() > 7 && auth->compare(0, 7, "Bearer ") == 0)
      return auth->substr(7);
    return request.cookie(kTokenCookie);
  }

  Response route(const HttpRequest& request) {
    if (request.header("content-length") && *request.header("content-length") != "0")
      return text(413, "this server takes no request bodies\n", true);
    if (request.header("transfer-encoding"))
      return text(413, "this server takes no request bodies\n", true);
    if (request.method != "GET" && request.method != "HEAD") {
      Response r = text(405, "read-only: GET and HEAD only\n", true);
      r.headers.emplace_back("Allow", "GET, HEAD");
      return r;
    }
    if (!host_allowed(request))
      return text(403,
                  "this server does not answer for that Host (name it with uni manager "
                  "--http-host)\n",
                  true);
    if (options_.authorize) {
      // The dashboard is opened as /?token=TOKEN once: the token becomes a
      // cookie its own requests carry.
      std::string from_query = request.path == "/" ? request.query_value("token") : "";
      if (!from_query.empty() && options_.authorize(from_query)) {
        Response r = text(303, "");
        r.headers.emplace_back("Location", "/");
        r.headers.emplace_back("Set-Cookie", std::string(kTokenCookie) + "=" + from_query +
                                                 "; Path=/; HttpOnly; SameSite=Strict");
        return r;
      }
      if (!options_.authorize(token_of(request))) {
        Response r = text(401,
                          "a bearer token is required (Authorization: Bearer TOKEN, or open "
                          "/?token=TOKEN)\n");
        r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"uni\"");
        return r;
      }
    }
    if (request.path == "/metrics" || request.path == "/api/status" ||
        request.path == "/api/history") {
      std::shared_ptr<const MetricsSnapshot> s = board_.read(kSnapshotPatience);
      if (!s) return text(503, "the manager has not published its state yet; try again\n");
      Response r;
      if (request.path == "/metrics") {
        r.content_type = "text/plain; version=0.0.4; charset=utf-8";
        r.body = prometheus_text(*s);
      } else if (request.path == "/api/status") {
        r.content_type = "application/json";
        r.body = status_json(s->status, options_.redact);
      } else {
        r.content_type = "application/json";
        r.body = history_json(*s);
      }
      return r;
    }
    bool asset_name =
        request.path.find_first_not_of("abcdefghijklmnopqrstuvwxyz.", 1) == std::string::npos;
    const DashboardAsset* asset = asset_name ? find_dashboard_asset(request.path) : nullptr;
    if (!asset) return text(404, "no such page: " + request.path + "\n");
    Response r;
    r.content_type = std::string(asset->content_type);
    r.body = std::string(asset->body);
    return r;
  }

  HttpOptions options_;
  SnapshotBoard& board_;
  UniqueFd listener_;
  WakeFd stop_;  // signalled once to stop the thread
  std::string url_;
  std::list<Connection> connections_;
  std::thread thread_;
};

HttpServer::HttpServer(HttpOptions options, SnapshotBoard& board)
    : impl_(std::make_unique<Impl>(std::move(options), board)) {}
HttpServer::~HttpServer() = default;
const std::string& HttpServer::url() const { return impl_->url(); }

}  // namespace uni::manager
