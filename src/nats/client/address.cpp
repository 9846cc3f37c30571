// Parsing "nats://[user:pass@|token@]host[:port],..." into servers and credentials.
#include "nats/client/address.hpp"

#include <charconv>
#include <stdexcept>

namespace uni::nats {

namespace {

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Userinfo is percent-encoded in a URL, so a password may hold '@' or ':'.
std::string percent_decode(std::string_view text, std::string_view url) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    int high = i + 2 < text.size() ? hex_value(text[i + 1]) : -1;
    int low = i + 2 < text.size() ? hex_value(text[i + 2]) : -1;
    if (high < 0 || low < 0)
      throw std::invalid_argument("bad percent-encoding in the credentials of " + std::string(url));
    out += static_cast<char>(high * 16 + low);
    i += 2;
  }
  return out;
}

void agree(std::optional<std::string>& field, const std::string& value, const char* what,
           std::string_view url) {
  if (field && *field != value)
    throw std::invalid_argument(std::string("the URLs give different ") + what + "s (" +
                                std::string(url) + "): give one set of credentials");
  field = value;
}

}  // namespace

bool is_nats_address(std::string_view text) {
  text = trim(text);
  return text.starts_with("nats://") || text.starts_with("tls://");
}

NatsAddress NatsAddress::parse(std::string_view text) {
  NatsAddress out;
  if (trim(text).empty()) throw std::invalid_argument("the NATS address is empty");
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t comma = text.find(',', start);
    std::string_view url = trim(text.substr(
        start, comma == std::string_view::npos ? std::string_view::npos : comma - start));
    start = comma == std::string_view::npos ? text.size() + 1 : comma + 1;
    if (url.empty()) {
      if (comma == std::string_view::npos && !out.servers.empty()) break;
      throw std::invalid_argument("empty server URL in the NATS address '" + std::string(text) +
                                  "'");
    }
    std::string scheme;
    std::string_view rest;
    if (url.starts_with("nats://")) scheme = "nats", rest = url.substr(7);
    else if (url.starts_with("tls://")) scheme = "tls", out.tls = true, rest = url.substr(6);
    else
      throw std::invalid_argument(
          "'" + std::string(url) +
          "' is not a NATS URL: expected nats://HOST:PORT or tls://HOST:PORT");
    if (std::size_t slash = rest.find('/'); slash != std::string_view::npos) {
      if (slash + 1 != rest.size())
        throw std::invalid_argument("'" + std::string(url) + "' has a path; a NATS URL has none");
      rest = rest.substr(0, slash);
    }
    if (std::size_t at = rest.rfind('@'); at != std::string_view::npos) {
      std::string_view userinfo = rest.substr(0, at);
      rest = rest.substr(at + 1);
      if (std::size_t colon = userinfo.find(':'); colon != std::string_view::npos) {
        agree(out.user, percent_decode(userinfo.substr(0, colon), url), "user", url);
        agree(out.password, percent_decode(userinfo.substr(colon + 1), url), "password", url);
      } else if (!userinfo.empty()) {
        agree(out.token, percent_decode(userinfo, url), "token", url);
      }
    }
    std::string_view host = rest, port = "4222";
    if (rest.starts_with("[")) {  // [::1]:4222
      std::size_t close = rest.find(']');
      if (close == std::string_view::npos)
        throw std::invalid_argument("'" + std::string(url) + "': unclosed '[' in the host");
      host = rest.substr(0, close + 1);
      if (close + 1 < rest.size()) {
        if (rest[close + 1] != ':')
          throw std::invalid_argument("'" + std::string(url) + "': expected ':' after the host");
        port = rest.substr(close + 2);
      }
    } else if (std::size_t colon = rest.rfind(':'); colon != std::string_view::npos) {
      host = rest.substr(0, colon);
      port = rest.substr(colon + 1);
    }
    if (host.empty()) throw std::invalid_argument("'" + std::string(url) + "' names no host");
    int port_number = 0;
    auto [end, error] = std::from_chars(port.data(), port.data() + port.size(), port_number);
    if (error != std::errc() || end != port.data() + port.size()) port_number = 0;
    if (port.empty() || port_number <= 0 || port_number > 65535)
      throw std::invalid_argument("'" + std::string(url) + "': the port '" + std::string(port) +
                                  "' is not a number from 1 to 65535");
    out.servers.push_back(scheme + "://" + std::string(host) + ":" + std::to_string(port_number));
  }
  if (out.servers.empty()) throw std::invalid_argument("the NATS address is empty");
  if (out.token && (out.user || out.password))
    throw std::invalid_argument("the NATS address gives both a token and a user: give one");
  return out;
}

std::string NatsAddress::servers_text() const {
  std::string out;
  for (const std::string& server : servers) {
    if (!out.empty()) out += ',';
    out += server;
  }
  return out;
}

}  // namespace uni::nats
