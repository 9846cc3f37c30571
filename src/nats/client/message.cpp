// Message accessors and JetStream acknowledgements over nats.c.
#include "nats/client/message.hpp"

#include "nats/client/error.hpp"

namespace uni::nats {

std::string_view Message::subject() const {
  const char* s = natsMsg_GetSubject(msg_.get());
  return s != nullptr ? s : "";
}

std::string_view Message::data() const {
  const char* d = natsMsg_GetData(msg_.get());
  return d != nullptr
             ? std::string_view(d, static_cast<std::size_t>(natsMsg_GetDataLength(msg_.get())))
             : std::string_view();
}

std::string_view Message::reply() const {
  const char* r = natsMsg_GetReply(msg_.get());
  return r != nullptr ? r : "";
}

std::optional<std::string> Message::header(const char* key) const {
  const char* value = nullptr;
  if (natsMsgHeader_Get(msg_.get(), key, &value) != NATS_OK || value == nullptr)
    return std::nullopt;
  return std::string(value);
}

std::uint64_t Message::sequence() const { return natsMsg_GetSequence(msg_.get()); }
std::int64_t Message::time_ns() const { return natsMsg_GetTime(msg_.get()); }

DeliveryInfo Message::delivery() const {
  jsMsgMetaData* raw = nullptr;
  check(natsMsg_GetMetaData(&raw, msg_.get()), "reading the delivery metadata of a message");
  MetaDataHandle meta(raw);
  DeliveryInfo out;
  out.stream = meta->Stream != nullptr ? meta->Stream : "";
  out.consumer = meta->Consumer != nullptr ? meta->Consumer : "";
  out.stream_seq = meta->Sequence.Stream;
  out.consumer_seq = meta->Sequence.Consumer;
  out.delivered = meta->NumDelivered;
  out.pending = meta->NumPending;
  out.timestamp_ns = meta->Timestamp;
  return out;
}

void Message::ack() { check(natsMsg_Ack(msg_.get(), nullptr), "acknowledging a message"); }

void Message::ack_sync(std::chrono::milliseconds timeout) {
  jsOptions options;
  jsOptions_Init(&options);
  options.Wait = timeout.count();
  jsErrCode code = static_cast<jsErrCode>(0);
  check(natsMsg_AckSync(msg_.get(), &options, &code), "acknowledging a message", code);
}

void Message::nak(std::chrono::milliseconds delay) {
  if (delay.count() > 0)
    check(natsMsg_NakWithDelay(msg_.get(), delay.count(), nullptr), "refusing a message (nak)");
  else check(natsMsg_Nak(msg_.get(), nullptr), "refusing a message (nak)");
}

void Message::in_progress() {
  check(natsMsg_InProgress(msg_.get(), nullptr), "extending a message's ack wait (in progress)");
}

void Message::term() {
  check(natsMsg_Term(msg_.get(), nullptr), "ending a message's deliveries (term)");
}

}  // namespace uni::nats
