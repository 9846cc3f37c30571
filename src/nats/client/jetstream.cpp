// JetStream context, stream management and retried publishing over nats.c.
#include "nats/client/jetstream.hpp"

#include <sodium.h>

#include <nlohmann/json.hpp>

#include <thread>

#include "common/log.hpp"
#include "nats/client/error.hpp"

namespace uni::nats {

namespace {

constexpr std::int64_t kNanosPerMilli = 1'000'000;

StreamState state_of(const jsStreamInfo& info) {
  StreamState out;
  out.messages = info.State.Msgs;
  out.bytes = info.State.Bytes;
  out.first_seq = info.State.FirstSeq;
  out.last_seq = info.State.LastSeq;
  out.consumers = info.State.Consumers;
  if (info.Config != nullptr) out.replicas = static_cast<int>(info.Config->Replicas);
  if (info.Cluster != nullptr && info.Cluster->Leader != nullptr) out.leader = info.Cluster->Leader;
  return out;
}

bool not_found(natsStatus status, jsErrCode code) {
  return status == NATS_NOT_FOUND || code == JSStreamNotFoundErr || code == JSNoMessageFoundErr;
}

}  // namespace

MsgHandle make_message(const std::string& subject, std::string_view data,
                       const std::vector<std::pair<std::string, std::string>>& headers) {
  natsMsg* raw = nullptr;
  check(natsMsg_Create(&raw, subject.c_str(), nullptr, data.data(), static_cast<int>(data.size())),
        "creating a message for " + subject);
  MsgHandle msg(raw);
  for (const auto& [key, value] : headers)
    check(natsMsgHeader_Set(msg.get(), key.c_str(), value.c_str()), "setting header " + key);
  return msg;
}

void backoff_sleep(int attempt) {
  // 25 ms doubling to 1 s, each with up to half again of jitter, so that the
  // clients of a cluster that lost its leader do not retry in step.
  std::int64_t base = std::min<std::int64_t>(1000, 25LL << std::min(attempt - 1, 6));
  std::int64_t jitter =
      static_cast<std::int64_t>(randombytes_uniform(static_cast<uint32_t>(base / 2 + 1)));
  std::this_thread::sleep_for(std::chrono::milliseconds(base + jitter));
}

JetStream::JetStream(Connection& connection, std::chrono::milliseconds api_timeout)
    : connection_(&connection), api_timeout_(api_timeout) {
  jsOptions opts = options();
  jsCtx* raw = nullptr;
  check(natsConnection_JetStream(&raw, connection.get(), &opts), "creating a JetStream context");
  js_.reset(raw);
}

jsOptions JetStream::options() const {
  jsOptions opts;
  jsOptions_Init(&opts);
  opts.Wait = api_timeout_.count();
  return opts;
}

bool JetStream::too_few_nodes(const NatsError& error) {
  switch (error.js_code()) {
    case JSStreamReplicasNotSupportedErr: auto_replicas_ = 1; return true;  // not clustered
    case JSInsufficientResourcesErr:
    case JSClusterNoPeersErr: return true;
    default: break;
  }
  // nats.c's KV calls report no error code: the server's words.
  std::string_view what = error.what();
  if (what.find("not supported in non-clustered mode") != std::string_view::npos) {
    auto_replicas_ = 1;
    return true;
  }
  return what.find("insufficient resources") != std::string_view::npos ||
         what.find("no suitable peers") != std::string_view::npos;
}

StreamState JetStream::ensure_stream(const StreamConfig& config) {
  if (config.replicas > 0) return ensure_stream_with(config, config.replicas, false);
  // As many as the cluster offers: tried from the most down. A node that is
  // down makes a new stream start with fewer; the next open raises it.
  for (int replicas = auto_replicas();; --replicas) {
    try {
      return ensure_stream_with(config, replicas, true);
    } catch (const NatsError& e) {
      if (replicas <= 1 || !too_few_nodes(e)) throw;
    }
  }
}

void JetStream::raise_replicas(const std::string& stream) {
  jsOptions opts = options();
  jsStreamInfo* raw = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  check(js_GetStreamInfo(&raw, js_.get(), stream.c_str(), &opts, &code),
        "reading the configuration of stream " + stream, code);
  StreamInfoHandle info(raw);
  const int current = static_cast<int>(info->Config->Replicas);
  for (int replicas = auto_replicas(); replicas > current; --replicas) {
    info->Config->Replicas = replicas;
    jsStreamInfo* updated = nullptr;
    code = static_cast<jsErrCode>(0);
    natsStatus status = js_UpdateStream(&updated, js_.get(), info->Config, &opts, &code);
    if (status == NATS_OK) {
      StreamInfoHandle done(updated);
      log::info("NATS: stream {} now has {} replicas (had {})", stream, replicas, current);
      return;
    }
    try {
      check(status, "raising the replicas of stream " + stream, code);
    } catch (const NatsError& e) {
      if (!too_few_nodes(e)) throw;
    }
  }
}

StreamState JetStream::ensure_stream_with(const StreamConfig& config, int replicas,
                                          bool keep_more) {
  jsStreamConfig cfg;
  jsStreamConfig_Init(&cfg);
  std::vector<const char*> subjects;
  for (const std::string& subject : config.subjects) subjects.push_back(subject.c_str());
  cfg.Name = config.name.c_str();
  if (!config.description.empty()) cfg.Description = config.description.c_str();
  cfg.Subjects = subjects.data();
  cfg.SubjectsLen = static_cast<int>(subjects.size());
  cfg.Retention = config.retention == Retention::kWorkQueue  ? js_WorkQueuePolicy
                  : config.retention == Retention::kInterest ? js_InterestPolicy
                                                             : js_LimitsPolicy;
  cfg.Replicas = replicas;
  cfg.Storage = config.memory_storage ? js_MemoryStorage : js_FileStorage;
  cfg.MaxMsgs = config.max_msgs;
  cfg.MaxBytes = config.max_bytes;
  cfg.MaxMsgsPerSubject = config.max_msgs_per_subject;
  cfg.MaxMsgSize = config.max_msg_size;
  cfg.MaxAge = config.max_age.count() * kNanosPerMilli;
  cfg.Discard = config.discard_new ? js_DiscardNew : js_DiscardOld;
  cfg.Duplicates = config.duplicate_window.count() * kNanosPerMilli;
  cfg.AllowRollup = config.allow_rollup;
  cfg.AllowDirect = config.allow_direct;

  jsOptions opts = options();
  jsStreamInfo* info = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  // Two processes creating the same stream at once: the server can answer
  // the second "subjects overlap" (with the stream it is still creating for
  // the first). Asked again once that one exists, it answers "done" or
  // "name in use"; a real overlap with another stream stays one.
  natsStatus status = NATS_OK;
  for (int attempt = 1;; ++attempt) {
    code = static_cast<jsErrCode>(0);
    status = js_AddStream(&info, js_.get(), &cfg, &opts, &code);
    if (status == NATS_OK || code != JSStreamSubjectOverlapErr || attempt == 10) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (status != NATS_OK && code == JSStreamNameExistErr) {
    // It exists with another configuration (another client's defaults, or an
    // operator's change): bring it to this one, keeping replicas it has
    // beyond those asked if they were not given.
    if (keep_more)
      if (std::optional<StreamState> now = stream_state(config.name);
          now && now->replicas > replicas)
        cfg.Replicas = now->replicas;
    code = static_cast<jsErrCode>(0);
    status = js_UpdateStream(&info, js_.get(), &cfg, &opts, &code);
    check(status, "updating stream " + config.name + " to uni's configuration", code);
  } else {
    check(status, "creating stream " + config.name, code);
  }
  StreamInfoHandle owned(info);
  return state_of(*owned);
}

std::optional<StreamState> JetStream::stream_state(const std::string& stream) {
  jsOptions opts = options();
  jsStreamInfo* info = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus status = js_GetStreamInfo(&info, js_.get(), stream.c_str(), &opts, &code);
  if (not_found(status, code)) return std::nullopt;
  check(status, "reading the state of stream " + stream, code);
  StreamInfoHandle owned(info);
  return state_of(*owned);
}

void JetStream::delete_stream(const std::string& stream) {
  jsOptions opts = options();
  jsErrCode code = static_cast<jsErrCode>(0);
  check(js_DeleteStream(js_.get(), stream.c_str(), &opts, &code), "deleting stream " + stream,
        code);
}

void JetStream::purge_subject(const std::string& stream, const std::string& subject) {
  jsOptions opts = options();
  opts.Stream.Purge.Subject = subject.c_str();
  jsErrCode code = static_cast<jsErrCode>(0);
  check(js_PurgeStream(js_.get(), stream.c_str(), &opts, &code),
        "purging " + subject + " from stream " + stream, code);
}

PublishAck JetStream::publish(const std::string& subject, std::string_view data,
                              const PublishOptions& options) {
  MsgHandle msg = make_message(subject, data, options.headers);
  jsPubOptions pub;
  jsPubOptions_Init(&pub);
  pub.MaxWait = options.ack_timeout.count();
  if (!options.msg_id.empty()) pub.MsgId = options.msg_id.c_str();
  auto deadline = std::chrono::steady_clock::now() + options.retry_for;
  for (int attempt = 1;; ++attempt) {
    jsPubAck* raw = nullptr;
    jsErrCode code = static_cast<jsErrCode>(0);
    natsStatus status = js_PublishMsg(&raw, js_.get(), msg.get(), &pub, &code);
    if (status == NATS_OK) {
      PubAckHandle ack(raw);
      return PublishAck{ack->Stream != nullptr ? ack->Stream : "", ack->Sequence, ack->Duplicate,
                        attempt};
    }
    try {
      check(status, "publishing to " + subject, code);
    } catch (const NatsError& error) {
      if (!is_transient(error) || std::chrono::steady_clock::now() >= deadline) {
        if (attempt == 1) throw;
        throw NatsError(error.kind(), error.status(), error.js_code(),
                        std::string(error.what()) + " (still failing after " +
                            std::to_string(attempt) + " tries)");
      }
      if (attempt == 1)
        log::debug("NATS: publish to {} failed ({}), retrying", subject, error.what());
    }
    backoff_sleep(attempt);
  }
}

std::optional<Message> JetStream::message(const std::string& stream, std::uint64_t sequence) {
  jsOptions opts = options();
  natsMsg* raw = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus status = js_GetMsg(&raw, js_.get(), stream.c_str(), sequence, &opts, &code);
  if (not_found(status, code)) return std::nullopt;
  check(status, "reading message " + std::to_string(sequence) + " of stream " + stream, code);
  return Message(MsgHandle(raw));
}

std::optional<Message> JetStream::last_message(const std::string& stream,
                                               const std::string& subject) {
  jsOptions opts = options();
  natsMsg* raw = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus status = js_GetLastMsg(&raw, js_.get(), stream.c_str(), subject.c_str(), &opts, &code);
  if (not_found(status, code)) return std::nullopt;
  check(status, "reading the last message of " + subject + " in stream " + stream, code);
  return Message(MsgHandle(raw));
}

std::optional<Message> JetStream::next_message(const std::string& stream,
                                               const std::string& subject,
                                               std::uint64_t from_sequence) {
  jsOptions opts = options();
  jsDirectGetMsgOptions get;
  jsDirectGetMsgOptions_Init(&get);
  get.Sequence = from_sequence;
  get.NextBySubject = subject.c_str();
  natsMsg* raw = nullptr;
  natsStatus status = js_DirectGetMsg(&raw, js_.get(), stream.c_str(), &opts, &get);
  if (status == NATS_NOT_FOUND) return std::nullopt;
  check(status, "reading " + subject + " from sequence " + std::to_string(from_sequence) +
                    " of stream " + stream);
  return Message(MsgHandle(raw));
}

std::optional<JetStream::Stored> JetStream::next_stored(const std::string& stream,
                                                        const std::string& subject,
                                                        std::uint64_t from_sequence) {
  // nats.c reads by subject only the last message, or directly: the
  // stream's API request does the rest (server 2.9: next_by_subj).
  nlohmann::json request = {{"seq", from_sequence}, {"next_by_subj", subject}};
  const std::string doing = "reading " + subject + " from sequence " +
                            std::to_string(from_sequence) + " of stream " + stream;
  Message reply =
      connection_->request("$JS.API.STREAM.MSG.GET." + stream, request.dump(), api_timeout_);
  nlohmann::json answer;
  try {
    answer = nlohmann::json::parse(reply.data());
  } catch (const nlohmann::json::exception& e) {
    throw NatsError(FailureKind::kOther, NATS_ERR, 0, doing + ": the answer is not JSON");
  }
  if (answer.contains("error")) {
    const nlohmann::json& error = answer["error"];
    int code = error.value("err_code", 0);
    if (code == JSNoMessageFoundErr || error.value("code", 0) == 404) {
      if (code == JSStreamNotFoundErr)
        throw NatsError(FailureKind::kNotFound, NATS_NOT_FOUND, code,
                        doing + ": " + error.value("description", "stream not found"));
      return std::nullopt;
    }
    throw NatsError(code == 10008 ? FailureKind::kTimeout : FailureKind::kOther, NATS_ERR, code,
                    doing + ": " + error.value("description", "") + " [JetStream error " +
                        std::to_string(code) + "]");
  }
  const nlohmann::json& message = answer.at("message");
  Stored out;
  out.sequence = message.value("seq", std::uint64_t{0});
  out.subject = message.value("subject", "");
  const std::string data = message.value("data", "");
  out.data.resize(data.size());
  std::size_t length = 0;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data.data()), out.data.size(),
                        data.data(), data.size(), nullptr, &length, nullptr,
                        sodium_base64_VARIANT_ORIGINAL) != 0)
    throw NatsError(FailureKind::kOther, NATS_ERR, 0, doing + ": the message is not base64");
  out.data.resize(length);
  return out;
}

void JetStream::delete_message(const std::string& stream, std::uint64_t sequence) {
  jsOptions opts = options();
  jsErrCode code = static_cast<jsErrCode>(0);
  check(js_DeleteMsg(js_.get(), stream.c_str(), sequence, &opts, &code),
        "deleting message " + std::to_string(sequence) + " of stream " + stream, code);
}

}  // namespace uni::nats
