// Request heads within bounds (see http_request.hpp). Strict where being lax
// would let a request mean two things: one space between the parts of the
// request line, CRLF or LF line ends, no obsolete folded header lines.
#include "manager/http_request.hpp"

#include <cctype>

namespace uni::manager {

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool token_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool printable(std::string_view s) {
  for (char c : s)
    if (static_cast<unsigned char>(c) < 0x20 && c != '\t') return false;
  return true;
}

// Splits `text` at the first `separator`: the part before, and after.
std::pair<std::string_view, std::string_view> split(std::string_view text, char separator) {
  std::size_t at = text.find(separator);
  if (at == std::string_view::npos) return {text, {}};
  return {text.substr(0, at), text.substr(at + 1)};
}

}  // namespace

const std::string* HttpRequest::header(std::string_view name) const {
  for (const auto& [n, v] : headers)
    if (n == name) return &v;
  return nullptr;
}

std::string HttpRequest::query_value(std::string_view name) const {
  std::string_view rest = query;
  while (!rest.empty()) {
    auto [pair, after] = split(rest, '&');
    auto [key, value] = split(pair, '=');
    if (key == name) return std::string(value);
    rest = after;
  }
  return {};
}

std::string HttpRequest::cookie(std::string_view name) const {
  for (const auto& [n, v] : headers) {
    if (n != "cookie") continue;
    std::string_view rest = v;
    while (!rest.empty()) {
      auto [pair, after] = split(rest, ';');
      auto [key, value] = split(trim(pair), '=');
      if (key == name) return std::string(value);
      rest = after;
    }
  }
  return {};
}

HeadResult parse_request_head(std::string_view buffer, HttpRequest& out) {
  HeadResult result;
  std::size_t end = buffer.find("\r\n\r\n");
  std::size_t blank = 4;
  if (std::size_t lf = buffer.find("\n\n"); lf != std::string_view::npos && lf < end) {
    end = lf;
    blank = 2;
  }
  if (end == std::string_view::npos) {
    if (buffer.size() >= kMaxRequestHead) {
      result.outcome = HeadParse::kTooLarge;
      result.error =
          "the request head is longer than " + std::to_string(kMaxRequestHead) + " bytes";
    }
    return result;
  }
  if (end + blank > kMaxRequestHead) {
    result.outcome = HeadParse::kTooLarge;
    result.error = "the request head is longer than " + std::to_string(kMaxRequestHead) + " bytes";
    return result;
  }
  auto bad = [&](std::string why) {
    result.outcome = HeadParse::kBad;
    result.error = std::move(why);
    return result;
  };
  std::string_view head = buffer.substr(0, end);
  std::vector<std::string_view> lines;
  while (!head.empty()) {
    auto [line, rest] = split(head, '\n');
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    lines.push_back(line);
    head = rest;
    if (lines.size() > kMaxHeaders + 1) {
      result.outcome = HeadParse::kTooLarge;
      result.error = "more than " + std::to_string(kMaxHeaders) + " header lines";
      return result;
    }
  }
  if (lines.empty()) return bad("empty request");
  // METHOD SP TARGET SP HTTP/1.x
  auto [method, after_method] = split(lines[0], ' ');
  auto [target, version] = split(after_method, ' ');
  if (method.empty()) return bad("no method");
  for (char c : method)
    if (!token_char(c)) return bad("malformed method");
  if (target.empty() || target.front() != '/' || !printable(target) ||
      target.find(' ') != std::string_view::npos)
    return bad("malformed request target");
  if (version.size() != 8 || version.substr(0, 7) != "HTTP/1." ||
      !std::isdigit(static_cast<unsigned char>(version[7])))
    return bad("not an HTTP/1.x request");
  out.method = std::string(method);
  auto [path, query] = split(target, '?');
  out.path = std::string(path);
  out.query = std::string(query);
  out.minor_version = version[7] - '0';
  out.headers.clear();
  for (std::size_t i = 1; i < lines.size(); ++i) {
    std::string_view line = lines[i];
    if (line.empty()) return bad("empty header line");
    if (line.front() == ' ' || line.front() == '\t') return bad("folded header line");
    std::size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) return bad("malformed header line");
    std::string_view name = line.substr(0, colon);
    for (char c : name)
      if (!token_char(c)) return bad("malformed header name");
    std::string_view value = trim(line.substr(colon + 1));
    if (!printable(value)) return bad("control character in a header");
    out.headers.emplace_back(lower(name), std::string(value));
  }
  result.outcome = HeadParse::kComplete;
  result.head_size = end + blank;
  return result;
}

}  // namespace uni::manager
