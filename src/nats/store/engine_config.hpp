// What a boss or a worker on NATS is configured with beyond the address: the
// connection's credentials and TLS, the replicas of uni's streams and buckets,
// the workers' ack-wait and max-deliver, and how tasks are packed into
// messages. Read from the environment (UNI_NATS_*), so that the CLI, the C++
// API and `uni worker` take the same settings (docs/scale-out.md section 4).
#pragma once

#include <chrono>
#include <cstddef>
#include <string>

#include "nats/client/connection.hpp"
#include "nats/store/names.hpp"

namespace uni::nats {

struct EngineConfig {
  ConnectOptions connect;
  Names names;
  // Replicas of every stream and bucket uni creates; 0: as many as the
  // cluster offers, up to 3 (3 survive the loss of a node).
  int replicas = 0;
  // A fetched batch not acked nor marked in progress within this time goes to
  // another worker; the bound on noticing a dead worker.
  std::chrono::milliseconds ack_wait{30000};
  int max_deliver = 10;
  // Tasks packed into one message: up to this many, or this many bytes of
  // encoded tasks (batching is what makes JetStream fast, docs/scale-out.md 3).
  std::size_t batch_tasks = 100;
  std::size_t batch_bytes = 64 << 10;
  // Bounds each JetStream API request (stream, consumer and bucket
  // management, direct reads); a request unanswered by then is retried.
  std::chrono::milliseconds api_timeout{5000};
  // How long results stay in UNI_RESULTS for `uni result ID`.
  std::chrono::milliseconds result_max_age{std::chrono::hours(24)};

  // `address` plus UNI_NATS_USER, UNI_NATS_PASSWORD, UNI_NATS_TOKEN,
  // UNI_NATS_NKEY_SEED (or UNI_NATS_NKEY_SEED_FILE), UNI_NATS_TLS_CA,
  // UNI_NATS_TLS_CERT, UNI_NATS_TLS_KEY, UNI_NATS_REPLICAS,
  // UNI_NATS_ACK_WAIT_MS, UNI_NATS_MAX_DELIVER, UNI_NATS_PREFIX. Throws
  // std::invalid_argument naming a variable that cannot be read.
  static EngineConfig from_environment(const std::string& address);
};

}  // namespace uni::nats
