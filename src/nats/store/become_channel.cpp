// The become request/reply between a boss and a worker (see become_channel.hpp).
#include "nats/store/become_channel.hpp"

#include <cstdio>

#include "common/log.hpp"
#include "nats/client/error.hpp"

namespace uni::nats {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

proto::BecomeReply refused(const proto::BecomeRequest& r, std::string why) {
  return {r.request, r.service, false, std::move(why), 0, 0};
}

std::string seconds_text(Clock::duration d) {
  char out[32];
  std::snprintf(out, sizeof out, "%.3g",
                std::chrono::duration_cast<milliseconds>(d).count() / 1000.0);
  return out;
}

}  // namespace

proto::BecomeReply ask_become(Connection& connection, const Names& names,
                              const std::string& worker_id, const proto::BecomeRequest& request,
                              Clock::time_point deadline,
                              const std::function<std::optional<std::string>()>& give_up) {
  const std::string subject = names.become_subject(worker_id);
  const Clock::time_point sent = Clock::now();
  try {
    // Under the connection's inbox prefix, where permissions let only this
    // identity subscribe.
    const std::string inbox = connection.new_inbox();
    // Subscribed before the request goes out, on the same connection: the
    // answer (or the server's "no responders") cannot come first.
    Subscription answers = connection.subscribe(inbox);
    const std::string data = proto::encode_become(request);
    check(natsConnection_PublishRequest(connection.get(), subject.c_str(), inbox.c_str(),
                                        data.data(), static_cast<int>(data.size())),
          "sending the become request on " + subject);
    const std::string nobody = "the service's worker " + worker_id +
                               " does not listen for become requests (it has stopped, or runs "
                               "a uni without become on NATS)";
    while (true) {
      const Clock::time_point now = Clock::now();
      if (now >= deadline)
        return refused(request, "the service's worker " + worker_id +
                                    " did not answer the become request within " +
                                    seconds_text(now - sent) +
                                    " s; what became of it is unknown (uni status shows the "
                                    "service's module and becomes)");
      if (std::optional<std::string> why = give_up()) return refused(request, *why);
      auto wait =
          std::min(milliseconds(250),
                   std::chrono::duration_cast<milliseconds>(deadline - now) + milliseconds(1));
      std::optional<Message> message;
      try {
        message = answers.next(wait);
      } catch (const NatsError& e) {
        // nats.c reports the server's "no responders" answer as the status
        // of the wait itself.
        if (e.kind() == FailureKind::kNoResponders) return refused(request, nobody);
        throw;
      }
      if (!message) continue;
      if (natsMsg_IsNoResponders(message->get())) return refused(request, nobody);
      proto::Message parsed = proto::Message::parse(message->data().data(), message->data().size());
      if (parsed.type() != proto::Type::kBecomeReply)
        return refused(request, "the service's worker " + worker_id + " answered with a " +
                                    proto::type_name(parsed.type()) + ", not a BECOME_REPLY");
      proto::BecomeReply reply = proto::read_become_reply(parsed);
      reply.request = request.request;  // the worker's copy of it, whatever it says
      return reply;
    }
  } catch (const std::exception& e) {
    return refused(request, "asking worker " + worker_id + " on " + subject + ": " + e.what());
  }
}

BecomeListener::BecomeListener(Connection& connection, const Names& names,
                               const std::string& worker_id)
    : connection_(connection),
      subscription_(connection.subscribe(names.become_subject(worker_id))) {
  // Registered at the server before the worker's first heartbeat announces
  // a service of it, so that a boss that finds one never sees "no responders".
  connection.flush();
  thread_ = std::thread([this] { listen_loop(); });
}

BecomeListener::~BecomeListener() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  thread_.join();
}

void BecomeListener::listen_loop() {
  while (true) {
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
    }
    std::optional<Message> message;
    try {
      message = subscription_.next(milliseconds(200));
    } catch (const std::exception& e) {
      log::debug("NATS: waiting for become requests: {}", e.what());
      std::this_thread::sleep_for(milliseconds(200));
      continue;
    }
    if (!message) continue;
    const std::string inbox(message->reply());
    proto::BecomeRequest request;
    try {
      proto::Message parsed = proto::Message::parse(message->data().data(), message->data().size());
      if (parsed.type() != proto::Type::kBecome)
        throw proto::DecodeError(std::string("a ") + proto::type_name(parsed.type()) +
                                 " is not a BECOME");
      request = proto::read_become(parsed);
    } catch (const std::exception& e) {
      log::warn("NATS: a become request on {} cannot be read ({}); refused", message->subject(),
                e.what());
      if (!inbox.empty()) {
        proto::BecomeReply reply;
        reply.text = std::string("the worker could not read the become request: ") + e.what();
        try {
          connection_.publish(inbox, proto::encode_become_reply(reply));
        } catch (const std::exception& again) {
          log::debug("NATS: answering an unreadable become request: {}", again.what());
        }
      }
      continue;
    }
    if (inbox.empty()) {
      log::warn("NATS: a become request for service {} has no reply subject; ignored",
                request.service.str());
      continue;
    }
    {
      std::lock_guard lock(mutex_);
      const std::uint64_t ours = next_request_++;
      asked_[ours] = Asked{inbox, request.request, request};
      request.request = ours;
      arrived_.push_back(std::move(request));
    }
    wake_.signal();
  }
}

std::vector<proto::BecomeRequest> BecomeListener::take() {
  wake_.drain();
  std::vector<proto::BecomeRequest> out;
  std::lock_guard lock(mutex_);
  out.swap(arrived_);
  return out;
}

std::optional<proto::BecomeRequest> BecomeListener::find(std::uint64_t request) const {
  std::lock_guard lock(mutex_);
  auto it = asked_.find(request);
  if (it == asked_.end()) return std::nullopt;
  return it->second.request;
}

bool BecomeListener::answer(proto::BecomeReply reply) {
  std::string inbox;
  {
    std::lock_guard lock(mutex_);
    auto it = asked_.find(reply.request);
    if (it == asked_.end()) return false;
    inbox = std::move(it->second.inbox);
    reply.request = it->second.boss_request;
    asked_.erase(it);
  }
  // Core NATS, not stored: a boss that left meanwhile does not need it, and
  // one whose connection dropped gives up at its deadline and says so.
  connection_.publish(inbox, proto::encode_become_reply(reply));
  return true;
}

}  // namespace uni::nats
