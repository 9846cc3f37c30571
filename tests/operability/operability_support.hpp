// Helpers shared by the operability tests: the manager's HTTP
// address from its stdout, GET/other requests through cpp-httplib, waiting
// for `uni status --json` to reach a condition, and input files for `uni map`.
#pragma once

#include <httplib.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <string>
#include <thread>

#include "test_cluster.hpp"

namespace uni::test {

// "http://127.0.0.1:PORT", from the manager's "dashboard on URL/" line.
inline std::string dashboard_url(TestCluster& cluster) {
  if (!cluster.manager().wait_for_stdout("dashboard on ", std::chrono::seconds(10))) return "";
  for (const std::string& line : split_lines(cluster.manager().read_stdout()))
    if (line.rfind("dashboard on ", 0) == 0) {
      std::string url = line.substr(13);
      if (!url.empty() && url.back() == '/') url.pop_back();
      return url;
    }
  return "";
}

struct HttpReply {
  int status = 0;  // 0: no answer
  std::string body, content_type;
};

inline HttpReply http_request(const std::string& url, const std::string& method,
                              const std::string& path) {
  httplib::Client client(url);
  client.set_connection_timeout(5);
  client.set_read_timeout(10);
  httplib::Result r = method == "GET"      ? client.Get(path)
                      : method == "POST"   ? client.Post(path, "{}", "application/json")
                      : method == "PUT"    ? client.Put(path, "{}", "application/json")
                      : method == "DELETE" ? client.Delete(path)
                                           : client.Head(path);
  if (!r) return {};
  return {r->status, r->body, r->get_header_value("Content-Type")};
}

inline HttpReply http_get(const std::string& url, const std::string& path) {
  return http_request(url, "GET", path);
}

// Polls until `done(value)` or 30 s; returns the last value.
template <class T>
T poll_until(const std::function<T()>& get, const std::function<bool(const T&)>& done) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  T value = get();
  while (!done(value) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    value = get();
  }
  return value;
}

// A `uni map` input file of `lines` lines in the cluster's temp dir.
inline std::string write_input(TestCluster& cluster, const std::string& name,
                               const std::vector<std::string>& lines) {
  std::string path = (cluster.dir() / name).string();
  std::ofstream out(path);
  for (const std::string& l : lines) out << l << "\n";
  return path;
}

}  // namespace uni::test
