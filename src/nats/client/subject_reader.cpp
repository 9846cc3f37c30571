// read_subject: an ephemeral push consumer whose filter is in its API subject.
#include "nats/client/subject_reader.hpp"

#include <sodium.h>

#include <nlohmann/json.hpp>

#include "nats/client/error.hpp"

namespace uni::nats {

namespace {

std::string random_name() {
  unsigned char bytes[12];
  randombytes_buf(bytes, sizeof bytes);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char b : bytes) {
    out += kHex[b >> 4];
    out += kHex[b & 15];
  }
  return out;
}

}  // namespace

std::vector<SubjectRead> read_subject(Connection& connection, const std::string& stream,
                                      const std::string& subject, std::uint64_t from,
                                      std::chrono::milliseconds timeout) {
  const std::string name = random_name();
  const std::string deliver = connection.new_inbox();
  // Subscribed before the consumer exists: its first delivery cannot come first.
  Subscription deliveries = connection.subscribe(deliver);
  nlohmann::json config = {
      {"name", name},
      {"deliver_subject", deliver},
      {"filter_subject", subject},
      {"ack_policy", "none"},
      {"replay_policy", "instant"},
      {"mem_storage", true},
      {"num_replicas", 1},
      // Removed by the server this long after the read stopped listening.
      {"inactive_threshold", std::int64_t{5'000'000'000}},
  };
  if (from > 1) {
    config["deliver_policy"] = "by_start_sequence";
    config["opt_start_seq"] = from;
  } else {
    config["deliver_policy"] = "all";
  }
  const nlohmann::json request = {{"stream_name", stream}, {"config", config}};
  const std::string api = "$JS.API.CONSUMER.CREATE." + stream + "." + name + "." + subject;
  Message answer = connection.request(api, request.dump(), timeout);
  nlohmann::json info;
  try {
    info = nlohmann::json::parse(answer.data());
  } catch (const nlohmann::json::exception& e) {
    throw NatsError(FailureKind::kOther, NATS_ERR, 0,
                    "reading " + subject + " from stream " + stream +
                        ": the server's answer is not JSON (" + e.what() + ")");
  }
  if (info.contains("error")) {
    const nlohmann::json& error = info["error"];
    const int code = error.value("err_code", 0);
    if (code == JSStreamNotFoundErr) return {};
    throw NatsError(FailureKind::kOther, NATS_ERR, code,
                    "reading " + subject + " from stream " + stream + ": " +
                        error.value("description", std::string("refused")));
  }
  std::uint64_t pending = info.value("num_pending", std::uint64_t{0});
  std::vector<SubjectRead> out;
  while (pending > 0) {
    std::optional<Message> message = deliveries.next(timeout);
    if (!message)
      throw NatsError(FailureKind::kTimeout, NATS_TIMEOUT, 0,
                      "reading " + subject + " from stream " + stream + ": " +
                          std::to_string(pending) + " stored messages did not come within " +
                          std::to_string(timeout.count()) + " ms");
    if (message->reply().empty()) continue;  // not a delivery (a status message)
    DeliveryInfo delivery = message->delivery();
    pending = delivery.pending;
    out.push_back({std::move(*message), delivery.stream_seq});
  }
  return out;
}

}  // namespace uni::nats
