// A received NATS message (owning natsMsg) and, for JetStream deliveries, its
// acknowledgements: ack, nak, in-progress (resets the ack-wait of a long
// task), term (never redeliver), and the delivery metadata (how often it was
// delivered, its stream sequence).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "nats/client/handles.hpp"

namespace uni::nats {

struct DeliveryInfo {
  std::string stream, consumer;
  std::uint64_t stream_seq = 0;
  std::uint64_t consumer_seq = 0;
  std::uint64_t delivered = 0;  // 1 on the first delivery, 2 after one redelivery, ...
  std::uint64_t pending = 0;    // messages left for the consumer after this one
  std::int64_t timestamp_ns = 0;
};

class Message {
 public:
  explicit Message(MsgHandle msg) : msg_(std::move(msg)) {}

  std::string_view subject() const;
  std::string_view data() const;
  std::string_view reply() const;
  std::optional<std::string> header(const char* key) const;
  // Stream sequence of a message read directly from a stream (GetMsg, GetLastMsg).
  std::uint64_t sequence() const;
  std::int64_t time_ns() const;  // the stream's timestamp (direct reads)

  // JetStream delivery metadata, from the reply subject. Throws NatsError on
  // a message that did not come from a consumer.
  DeliveryInfo delivery() const;

  // Acknowledgements of a JetStream delivery. ack_sync waits for the server's
  // confirmation (use it where a lost ack would matter, never per task on the
  // hot path: 4-5k/s). Each throws NatsError if it could not be sent.
  void ack();
  void ack_sync(std::chrono::milliseconds timeout = std::chrono::seconds(5));
  void nak(std::chrono::milliseconds delay = std::chrono::milliseconds(0));
  void in_progress();
  void term();

  natsMsg* get() const { return msg_.get(); }

 private:
  MsgHandle msg_;
};

}  // namespace uni::nats
