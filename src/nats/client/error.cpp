// Turning nats.c statuses into NatsError, with the server's reason attached.
#include "nats/client/error.hpp"

#include <cstring>

namespace uni::nats {

const char* failure_kind_name(FailureKind kind) {
  switch (kind) {
    case FailureKind::kAuthFailed: return "auth-failed";
    case FailureKind::kTls: return "tls";
    case FailureKind::kUnreachable: return "unreachable";
    case FailureKind::kTimeout: return "timeout";
    case FailureKind::kNoResponders: return "no-responders";
    case FailureKind::kNotFound: return "not-found";
    case FailureKind::kTooLarge: return "too-large";
    case FailureKind::kOther: return "other";
  }
  return "other";
}

namespace {

bool contains(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

}  // namespace

FailureKind classify(natsStatus status, int js_code, std::string_view detail) {
  switch (status) {
    case NATS_CONNECTION_AUTH_FAILED:
    case NATS_NOT_PERMITTED: return FailureKind::kAuthFailed;
    case NATS_SSL_ERROR:
    case NATS_SECURE_CONNECTION_WANTED:
    case NATS_SECURE_CONNECTION_REQUIRED: return FailureKind::kTls;
    case NATS_NO_SERVER:
    case NATS_IO_ERROR:
    case NATS_CONNECTION_CLOSED:
    case NATS_CONNECTION_DISCONNECTED:
    case NATS_STALE_CONNECTION:
    case NATS_NOT_YET_CONNECTED: return FailureKind::kUnreachable;
    case NATS_TIMEOUT: return FailureKind::kTimeout;
    case NATS_NO_RESPONDERS: return FailureKind::kNoResponders;
    case NATS_NOT_FOUND: return FailureKind::kNotFound;
    case NATS_MAX_PAYLOAD: return FailureKind::kTooLarge;
    default: break;
  }
  if (js_code == JSStreamNotFoundErr || js_code == JSConsumerNotFoundErr ||
      js_code == JSNoMessageFoundErr)
    return FailureKind::kNotFound;
  // A server refusing the CONNECT reports it as a protocol error whose text
  // names the cause.
  if (contains(detail, "Authorization Violation") || contains(detail, "Authentication"))
    return FailureKind::kAuthFailed;
  if (contains(detail, "TLS") || contains(detail, "SSL") || contains(detail, "certificate"))
    return FailureKind::kTls;
  return FailureKind::kOther;
}

void check(natsStatus status, std::string_view doing, jsErrCode js_code) {
  if (status == NATS_OK) return;
  natsStatus last = NATS_OK;
  const char* last_text = nats_GetLastError(&last);
  // The last error is per thread and outlives its call: one of another
  // status is an earlier failure's (a stale "replicas > 1 not supported"
  // added to a timeout), not this one's.
  std::string detail = last_text != nullptr && last == status ? last_text : "";
  std::string what(doing);
  what += ": ";
  what += natsStatus_GetText(status);
  // nats.c's last error often repeats the status text; add it only when it says more.
  if (!detail.empty() && detail != natsStatus_GetText(status)) what += " (" + detail + ")";
  if (js_code != 0) what += " [JetStream error " + std::to_string(static_cast<int>(js_code)) + "]";
  throw NatsError(classify(status, js_code, detail), status, static_cast<int>(js_code), what);
}

bool is_transient(const NatsError& error) {
  switch (error.kind()) {
    case FailureKind::kNoResponders:
    case FailureKind::kTimeout:
    case FailureKind::kUnreachable: return true;
    default: break;
  }
  // 10008 "JetStream system temporarily unavailable": a cluster between leaders.
  return error.js_code() == 10008;
}

}  // namespace uni::nats
