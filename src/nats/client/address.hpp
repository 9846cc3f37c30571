// A NATS cluster address as uni takes it: "nats://h1:4222,nats://h2:4222",
// each URL optionally with credentials ("nats://user:pass@h:4222",
// "nats://TOKEN@h:4222") and "tls://" for TLS. Credentials are lifted out so
// that they apply to every server, including ones the cluster tells about later.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace uni::nats {

struct NatsAddress {
  std::vector<std::string> servers;  // "nats://host:port" (or tls://), no credentials
  std::optional<std::string> user, password;
  std::optional<std::string> token;
  bool tls = false;  // some URL said tls://

  // Throws std::invalid_argument saying which URL is wrong and why.
  static NatsAddress parse(std::string_view text);
  // The servers joined by commas, for messages ("nats://a:1,nats://b:2").
  std::string servers_text() const;
};

// Whether an address names a NATS cluster (nats:// or tls://) rather than
// uni's built-in manager (tcp://): the choice of backend.
bool is_nats_address(std::string_view text);

}  // namespace uni::nats
