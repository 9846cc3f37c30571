// AsyncPublisher: nats.c's async JetStream publish with per-message max wait,
// failure collection in its ack handler, and retry in finish().
#include "nats/client/async_publisher.hpp"

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <unordered_map>

#include "common/log.hpp"
#include "nats/client/error.hpp"
#include "nats/client/jetstream.hpp"

namespace uni::nats {

struct AsyncPublisher::State {
  AsyncPublishConfig config;
  JsContextHandle js;
  std::mutex mutex;
  std::vector<MsgHandle> failed;  // to publish again
  std::optional<NatsError> fatal;
  std::uint64_t stored = 0;
  // By message id; a failure with a callback goes to it, not to `fatal`.
  std::unordered_map<std::string, AsyncPublisher::OnStored> callbacks;
  int callbacks_running = 0;
  std::condition_variable callbacks_done;
};

namespace {

void on_ack(jsCtx*, natsMsg* msg, jsPubAck* ack, jsPubAckErr* error, void* closure) {
  auto* state = static_cast<AsyncPublisher::State*>(closure);
  MsgHandle owned(msg);  // the handler owns the message (nats.c's contract)
  AsyncPublisher::OnStored callback;
  std::optional<NatsError> failure;
  {
    std::lock_guard lock(state->mutex);
    auto take_callback = [&] {
      if (state->callbacks.empty()) return;
      const char* id = nullptr;
      if (natsMsgHeader_Get(msg, "Nats-Msg-Id", &id) != NATS_OK || id == nullptr) return;
      auto it = state->callbacks.find(id);
      if (it == state->callbacks.end()) return;
      callback = std::move(it->second);
      state->callbacks.erase(it);
      ++state->callbacks_running;
    };
    if (ack != nullptr) {
      ++state->stored;
      take_callback();
    } else if (error != nullptr) {
      std::string subject = natsMsg_GetSubject(msg) != nullptr ? natsMsg_GetSubject(msg) : "";
      failure.emplace(
          classify(error->Err, error->ErrCode, error->ErrText != nullptr ? error->ErrText : ""),
          error->Err, error->ErrCode,
          "publishing to " + subject + ": " + natsStatus_GetText(error->Err) +
              (error->ErrText != nullptr ? std::string(" (") + error->ErrText + ")" : ""));
      if (is_transient(*failure)) {
        state->failed.push_back(std::move(owned));  // keeps its callback for the retry
        return;
      }
      take_callback();
      if (!callback && !state->fatal) state->fatal = *failure;
    }
  }
  // Outside the lock: the callback may publish again.
  if (!callback) return;
  try {
    callback(failure ? &*failure : nullptr);
  } catch (const std::exception& e) {  // never into nats.c
    log::warn("NATS: after a publish was answered: {}", e.what());
  }
  std::lock_guard lock(state->mutex);
  if (--state->callbacks_running == 0) state->callbacks_done.notify_all();
}

}  // namespace

AsyncPublisher::AsyncPublisher(Connection& connection, const AsyncPublishConfig& config)
    : state_(std::make_unique<State>()) {
  state_->config = config;
  jsOptions options;
  jsOptions_Init(&options);
  options.PublishAsync.MaxPending = config.max_pending;
  options.PublishAsync.AckHandler = on_ack;
  options.PublishAsync.AckHandlerClosure = state_.get();
  // publish() waits this long for room when max_pending are in flight, then fails.
  options.PublishAsync.StallWait = config.ack_timeout.count();
  jsCtx* raw = nullptr;
  check(natsConnection_JetStream(&raw, connection.get(), &options), "creating a JetStream context");
  state_->js.reset(raw);
}

AsyncPublisher::~AsyncPublisher() {
  // Let outstanding acknowledgements arrive (or time out) before the state
  // their handler uses goes away.
  jsPubOptions options;
  jsPubOptions_Init(&options);
  options.MaxWait = state_->config.ack_timeout.count() + 1000;
  js_PublishAsyncComplete(state_->js.get(), &options);
}

void AsyncPublisher::publish(const std::string& subject, std::string_view data,
                             const std::string& msg_id) {
  MsgHandle msg = make_message(subject, data, {{"Nats-Msg-Id", msg_id}});
  jsPubOptions options;
  jsPubOptions_Init(&options);
  options.MaxWait = state_->config.ack_timeout.count();
  natsMsg* raw = msg.release();
  natsStatus status = js_PublishMsgAsync(state_->js.get(), &raw, &options);
  if (status == NATS_OK) return;
  msg.reset(raw);  // not taken: still ours
  try {
    check(status, "publishing to " + subject);
  } catch (const NatsError& e) {
    if (!is_transient(e)) throw;
    std::lock_guard lock(state_->mutex);
    state_->failed.push_back(std::move(msg));  // a lost connection: finish() retries it
  }
}

void AsyncPublisher::publish(const std::string& subject, std::string_view data,
                             const std::string& msg_id, OnStored on_stored) {
  {
    std::lock_guard lock(state_->mutex);
    state_->callbacks[msg_id] = std::move(on_stored);
  }
  try {
    publish(subject, data, msg_id);
  } catch (...) {
    std::lock_guard lock(state_->mutex);
    state_->callbacks.erase(msg_id);
    throw;
  }
}

std::size_t AsyncPublisher::retry_failed() {
  std::vector<MsgHandle> again;
  {
    std::lock_guard lock(state_->mutex);
    again.swap(state_->failed);
  }
  jsPubOptions options;
  jsPubOptions_Init(&options);
  options.MaxWait = state_->config.ack_timeout.count();
  for (MsgHandle& msg : again) {
    natsMsg* raw = msg.release();
    if (js_PublishMsgAsync(state_->js.get(), &raw, &options) != NATS_OK) {
      std::lock_guard lock(state_->mutex);
      state_->failed.emplace_back(raw);
    }
  }
  return again.size();
}

std::size_t AsyncPublisher::failed_count() const {
  std::lock_guard lock(state_->mutex);
  return state_->failed.size();
}

void AsyncPublisher::forget_callbacks() {
  std::unique_lock lock(state_->mutex);
  state_->callbacks.clear();
  state_->callbacks_done.wait(lock, [&] { return state_->callbacks_running == 0; });
}

std::size_t AsyncPublisher::finish() { return finish(state_->config.retry_for); }

std::size_t AsyncPublisher::finish(std::chrono::milliseconds retry_for) {
  auto deadline = std::chrono::steady_clock::now() + retry_for;
  std::size_t republished = 0;
  jsPubOptions options;
  jsPubOptions_Init(&options);
  for (int round = 1;; ++round) {
    // Never past the deadline: a caller that is closing bounds its wait.
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    options.MaxWait =
        std::clamp<std::int64_t>(left.count(), 1, state_->config.ack_timeout.count() + 1000);
    natsStatus complete = js_PublishAsyncComplete(state_->js.get(), &options);
    std::vector<MsgHandle> again;
    {
      std::lock_guard lock(state_->mutex);
      if (state_->fatal) throw *state_->fatal;
      again.swap(state_->failed);
    }
    if (again.empty() && complete == NATS_OK) return republished;
    if (std::chrono::steady_clock::now() > deadline) {
      std::size_t count = again.size();
      {
        // Kept for a later finish() or retry_failed(), callbacks and all.
        std::lock_guard lock(state_->mutex);
        for (MsgHandle& msg : again) state_->failed.push_back(std::move(msg));
      }
      throw NatsError(FailureKind::kTimeout, NATS_TIMEOUT, 0,
                      std::to_string(count) + " messages still not stored after retrying for " +
                          std::to_string(retry_for.count()) + " ms");
    }
    if (again.empty()) continue;  // still waiting for answers
    backoff_sleep(round);
    for (MsgHandle& msg : again) {
      options.MaxWait = state_->config.ack_timeout.count();
      natsMsg* raw = msg.release();
      if (js_PublishMsgAsync(state_->js.get(), &raw, &options) != NATS_OK) {
        std::lock_guard lock(state_->mutex);
        state_->failed.emplace_back(raw);
      }
      ++republished;
    }
  }
}

std::uint64_t AsyncPublisher::stored() const {
  std::lock_guard lock(state_->mutex);
  return state_->stored;
}

}  // namespace uni::nats
