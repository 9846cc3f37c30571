// Credentials never reach a log line: every line uni logs passes through
// redact_secrets (log.cpp's sink), whatever code wrote it. What is hidden:
// the userinfo of a URL (nats://user:PASSWORD@host, nats://TOKEN@host), NATS
// nkey seeds (SU..., SA..., 58 characters), HTTP bearer tokens ("Bearer X"),
// and the values of password=, token= and secret= pairs.
#pragma once

#include <string>
#include <string_view>

namespace uni {

inline constexpr std::string_view kRedacted = "[redacted]";

// `text` with every credential above replaced by kRedacted; unchanged text
// when there is none.
std::string redact_secrets(std::string_view text);

// A URL as it may be shown: its userinfo's secret part replaced
// ("nats://alice:[redacted]@host:4222", "nats://[redacted]@host").
std::string redact_url(std::string_view url);

}  // namespace uni
