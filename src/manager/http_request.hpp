// One HTTP/1.1 request head, read within fixed bounds: the manager's HTTP
// server (http_server.cpp) keeps at most kMaxRequestHead bytes of a
// connection's request, and this parser reads them without allocating more
// than they hold. Only what a read-only server needs: the method, the
// target split into path and query, and the headers.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace uni::manager {

inline constexpr std::size_t kMaxRequestHead = 8192;  // request line and headers
inline constexpr std::size_t kMaxHeaders = 64;

struct HttpRequest {
  std::string method;                                        // "GET", as sent
  std::string path;                                          // "/api/status", without the query
  std::string query;                                         // after '?', empty if none
  int minor_version = 1;                                     // HTTP/1.x
  std::vector<std::pair<std::string, std::string>> headers;  // names in lower case

  // The value of the first header of that (lower-case) name, or null.
  const std::string* header(std::string_view name) const;
  // The value of a query parameter ("token" in "?token=abc"), not decoded.
  std::string query_value(std::string_view name) const;
  // The value of a cookie ("uni_token" in "Cookie: a=1; uni_token=abc").
  std::string cookie(std::string_view name) const;
};

enum class HeadParse {
  kIncomplete,  // no blank line yet: read more
  kComplete,    // the head ends at `head_size`
  kTooLarge,    // no blank line within kMaxRequestHead, or too many headers
  kBad,         // not an HTTP/1.x request head
};
struct HeadResult {
  HeadParse outcome = HeadParse::kIncomplete;
  std::size_t head_size = 0;  // kComplete: bytes of the head, blank line included
  std::string error;          // kBad, kTooLarge: why, for the 400 or 431 answer
};

// Reads a request head from the start of `buffer` (what a connection has
// sent so far).
HeadResult parse_request_head(std::string_view buffer, HttpRequest& out);

}  // namespace uni::manager
