// Errors of the NATS layer: every failing nats.c call becomes a NatsError that
// names what uni was doing, nats.c's status and the server's own words, and
// carries a kind the broker maps onto uni's errors (auth failed -> exit 3, ...).
#pragma once

#include <nats/nats.h>

#include <stdexcept>
#include <string>
#include <string_view>

namespace uni::nats {

// What went wrong, in the terms a caller acts on.
enum class FailureKind {
  kAuthFailed,    // the server refused the credentials (user/password, token, nkey)
  kTls,           // the TLS handshake failed (certificate, CA, TLS required/unavailable)
  kUnreachable,   // no server of the address answered
  kTimeout,       // a request got no answer in time
  kNoResponders,  // nobody serves the subject now (JetStream leader election, no stream)
  kNotFound,      // stream, consumer, message or key does not exist
  kTooLarge,      // over the server's max payload
  kOther,
};
const char* failure_kind_name(FailureKind kind);

class NatsError : public std::runtime_error {
 public:
  NatsError(FailureKind kind, natsStatus status, int js_code, const std::string& what)
      : std::runtime_error(what), kind_(kind), status_(status), js_code_(js_code) {}
  FailureKind kind() const { return kind_; }
  natsStatus status() const { return status_; }
  int js_code() const { return js_code_; }  // JetStream API error code (10059 ...), 0 if none

 private:
  FailureKind kind_;
  natsStatus status_;
  int js_code_;
};

// Throws NatsError if `status` is not NATS_OK. `doing` says what uni was doing
// ("creating stream UNI_TASKS_x"); nats.c's last error text is appended, as it
// carries the server's reason ("Authorization Violation").
void check(natsStatus status, std::string_view doing,
           jsErrCode js_code = static_cast<jsErrCode>(0));

// The kind a status falls under (used by check, and by callers that retry).
FailureKind classify(natsStatus status, int js_code, std::string_view detail);

// Whether an operation that failed this way may succeed if tried again soon:
// a stream without a leader answers "no responders" or times out until the
// election ends (5-8 s after the leader dies).
bool is_transient(const NatsError& error);

}  // namespace uni::nats
