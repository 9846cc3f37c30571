// The boss's link to the built-in manager (see zmq_boss_link.hpp).
#include "broker/zmq/zmq_boss_link.hpp"

#include <algorithm>

#include "broker/zmq/socket_poll.hpp"
#include "common/log.hpp"
#include "proto/batch.hpp"
#include "proto/chunks.hpp"
#include "uni/uni.hpp"

namespace uni::broker {

namespace {

template <class Promise>
void fail(Promise& promise, std::exception_ptr error) {
  try {
    promise.set_exception(std::move(error));
  } catch (const std::future_error&) {
    // Already satisfied: nothing to tell.
  }
}

}  // namespace

ZmqBossLink::ZmqBossLink(const CurveKeys& keys, const std::string& address, std::uint64_t session)
    : identity_(manager_identity(address)),
      session_(session),
      secret_(proto::new_hello_secret()),
      connection_(context_, keys, address, "boss") {}

ZmqBossLink::~ZmqBossLink() {
  if (!closed_) fail_pending(~0ull, "the connection is closing", false);
}

BrokerInfo ZmqBossLink::open(std::chrono::milliseconds timeout) {
  return broker_info(connection_.open(hello(false), timeout));
}

std::string ZmqBossLink::hello(bool) {
  proto::Hello h;
  h.role = "boss";
  h.session = session_;
  h.secret = secret_;
  return proto::encode_hello(h);
}

void ZmqBossLink::add_poll_items(std::vector<PollItem>& items) {
  connection_.add_poll_items(items);
}

void ZmqBossLink::poll(std::vector<PollItem>& items, std::chrono::milliseconds timeout) {
  poll_sockets(items, timeout);
}

void ZmqBossLink::process(const PollItem* ready, BossEvents& events) {
  events_ = &events;
  connection_.process(ready, *this);
  events_ = nullptr;
}

void ZmqBossLink::on_welcome(const proto::Welcome& welcome) {
  events_->on_reconnected(broker_info(welcome));
}

void ZmqBossLink::on_message(const proto::Message& m) {
  using proto::Type;
  switch (m.type()) {
    case Type::kResult: {
      std::vector<proto::Result> results = m.results();
      events_->on_results(results);
      return;
    }
    case Type::kNeedModule: events_->on_module_needed(m.module_hash()); return;
    case Type::kServiceStarted: events_->on_services_started(m.task_ids()); return;
    case Type::kNotice: events_->on_notice(m.text()); return;
    case Type::kBye: events_->on_broker_leaving(m.text()); return;
    case Type::kStatusReply: {
      if (status_pending_.empty()) {
        log::debug("a status reply nobody waits for (its request failed): dropped");
        return;
      }
      Pending<StatusPromise> pending = std::move(status_pending_.front());
      status_pending_.pop_front();
      try {
        pending.reply->set_value(m.status_report());
      } catch (const proto::DecodeError& e) {
        fail(*pending.reply, std::make_exception_ptr(Error("the status from " + identity_.name +
                                                           " does not read: " + e.what())));
      }
      return;
    }
    case Type::kBecomeReply: {
      proto::BecomeReply reply = proto::read_become_reply(m);
      auto it = std::find_if(become_pending_.begin(), become_pending_.end(),
                             [&](const auto& p) { return p.first == reply.request; });
      if (it == become_pending_.end()) {
        log::debug("a become reply nobody waits for (its request failed): dropped");
        return;
      }
      std::shared_ptr<BecomePromise> promise = std::move(it->second.reply);
      become_pending_.erase(it);
      promise->set_value(std::move(reply));
      return;
    }
    case Type::kKeptResult: {
      proto::KeptResultReply reply = proto::read_kept_result(m);
      auto it = std::find_if(kept_pending_.begin(), kept_pending_.end(),
                             [&](const auto& p) { return p.first == reply.request; });
      if (it == kept_pending_.end()) {
        log::debug("a kept-result reply nobody waits for (its request failed): dropped");
        return;
      }
      std::shared_ptr<KeptResultPromise> promise = std::move(it->second.reply);
      kept_pending_.erase(it);
      promise->set_value(std::move(reply));
      return;
    }
    case Type::kCancelReply: {
      // Matched by the ids it lists, so that a reply to a request that
      // failed (and came late, on a new connection) answers nobody.
      std::vector<proto::CancelOutcome> outcomes;
      try {
        outcomes = m.cancel_outcomes();
      } catch (const proto::DecodeError& e) {
        // Which request it answers cannot be told: the oldest one fails.
        if (!cancel_pending_.empty()) {
          std::shared_ptr<CancelPromise> reply = std::move(cancel_pending_.front().reply);
          cancel_pending_.pop_front();
          if (reply)
            fail(*reply, std::make_exception_ptr(Error("the cancel reply from " + identity_.name +
                                                       " does not read: " + e.what())));
        }
        return;
      }
      auto same_ids = [&](const Pending<CancelPromise>& p) {
        return std::equal(
            p.ids.begin(), p.ids.end(), outcomes.begin(), outcomes.end(),
            [](const proto::TaskId& id, const proto::CancelOutcome& o) { return id == o.id; });
      };
      auto it = std::find_if(cancel_pending_.begin(), cancel_pending_.end(), same_ids);
      if (it == cancel_pending_.end()) {
        log::debug("a cancel reply nobody waits for (its request failed): dropped");
        return;
      }
      std::shared_ptr<CancelPromise> reply = std::move(it->reply);
      cancel_pending_.erase(it);
      if (reply) reply->set_value(std::move(outcomes));
      return;
    }
    default: log::warn("unexpected {} from the manager", proto::type_name(m.type()));
  }
}

void ZmqBossLink::on_dropped() {
  const std::string why = "the connection to " + identity_.name + " dropped before it answered";
  fail_pending(~0ull, why, true);
  if (events_) events_->on_disconnected(why);
}

void ZmqBossLink::on_unknown_to_manager() {
  // The manager restarted and dropped what came before this boss's HELLO;
  // what was sent since will be answered.
  fail_pending(connection_.hellos(), identity_.name + " restarted before it answered", true);
}

void ZmqBossLink::on_refused(const std::string& text, const proto::Refusal& what) {
  auto refused = [&] { return std::make_exception_ptr(RefusedError(text)); };
  auto by_request = [&](auto& queue) {
    auto it = std::find_if(queue.begin(), queue.end(),
                           [&](const auto& p) { return p.first == what.request; });
    if (it == queue.end()) return false;
    fail(*it->second.reply, refused());
    queue.erase(it);
    return true;
  };
  using proto::Type;
  switch (what.type) {
    case Type::kHello:
      // This boss may not go on: whatever waits fails.
      fail_pending(~0ull, text, false, refused());
      if (events_) events_->on_session_refused(text);
      return;
    case Type::kStatus:
      if (!status_pending_.empty()) {
        fail(*status_pending_.front().reply, refused());
        status_pending_.pop_front();
        return;
      }
      break;
    case Type::kCancel: {
      auto it = std::find_if(cancel_pending_.begin(), cancel_pending_.end(),
                             [&](const Pending<CancelPromise>& p) { return p.ids == what.ids; });
      if (it != cancel_pending_.end()) {
        if (it->reply) fail(*it->reply, refused());
        cancel_pending_.erase(it);
        return;
      }
      break;
    }
    case Type::kBecome:
      if (by_request(become_pending_)) return;
      break;
    case Type::kFetchResult:
      if (by_request(kept_pending_)) return;
      break;
    default: break;
  }
  log::error("{}", text);
}

void ZmqBossLink::fail_pending(std::uint64_t sent_before_hello, const std::string& why,
                               bool connect_error, std::exception_ptr as) {
  auto error = [&](const char* request) {
    if (as) return as;
    std::string text = why + (connect_error ? std::string(" the ") + request + " request" : "");
    return connect_error
               ? std::make_exception_ptr(ConnectError(ConnectError::Reason::kUnreachable, text))
               : std::make_exception_ptr(Error(text));
  };
  auto fail_all = [&](auto& queue, const char* request) {
    while (!queue.empty() && queue.front().hello < sent_before_hello) {
      if (queue.front().reply) fail(*queue.front().reply, error(request));
      queue.pop_front();
    }
  };
  fail_all(status_pending_, "status");
  fail_all(cancel_pending_, "cancel");
  for (auto it = become_pending_.begin(); it != become_pending_.end();) {
    if (it->second.hello >= sent_before_hello) {
      ++it;
      continue;
    }
    fail(*it->second.reply, error("become"));
    it = become_pending_.erase(it);
  }
  for (auto it = kept_pending_.begin(); it != kept_pending_.end();) {
    if (it->second.hello >= sent_before_hello) {
      ++it;
      continue;
    }
    fail(*it->second.reply, error("result"));
    it = kept_pending_.erase(it);
  }
}

void ZmqBossLink::submit(const std::vector<Submission>& tasks) {
  // Unsent batches (no connection) are fine: the client submits everything
  // without a result again after the next WELCOME.
  // Batches fit in one frame; only a single large task travels in chunks.
  proto::Batcher<proto::Task> batches(proto::kPeerBatchBytes,
                                      [this](const std::vector<const proto::Task*>& batch) {
                                        connection_.send(proto::encode_submit(batch));
                                      });
  for (const Submission& s : tasks) batches.add(*s.task);
  batches.flush();
}

void ZmqBossLink::put_module(const ModuleHash& hash, std::string_view platform,
                             std::string_view bytes, const proto::ModuleSignatures& signatures) {
  connection_.send(proto::encode_put_module(hash, platform, bytes, signatures));
}

void ZmqBossLink::acknowledge(const std::vector<proto::TaskId>& ids) {
  // A turn's results may be many: ACKs of at most a frame each (18 bytes an id).
  constexpr std::size_t kIdsPerAck = proto::kPeerBatchBytes / 18 - 1;
  if (ids.size() <= kIdsPerAck) {
    connection_.send(proto::encode_ack(ids));
    return;
  }
  for (std::size_t at = 0; at < ids.size(); at += kIdsPerAck) {
    std::size_t end = std::min(ids.size(), at + kIdsPerAck);
    connection_.send(proto::encode_ack({ids.begin() + at, ids.begin() + end}));
  }
}

void ZmqBossLink::cancel(const std::vector<proto::TaskId>& ids,
                         std::shared_ptr<CancelPromise> reply) {
  if (connection_.send(proto::encode_cancel(ids)))
    cancel_pending_.push_back({std::move(reply), connection_.hellos(), ids});
  else if (reply) fail(*reply, std::make_exception_ptr(Error("not connected to the manager")));
}

void ZmqBossLink::request_status(std::shared_ptr<StatusPromise> reply) {
  if (connection_.send(proto::encode_status_request()))
    status_pending_.push_back({std::move(reply), connection_.hellos(), {}});
  else fail(*reply, std::make_exception_ptr(Error("not connected to the manager")));
}

void ZmqBossLink::request_become(const proto::BecomeRequest& request,
                                 std::shared_ptr<BecomePromise> reply) {
  if (connection_.send(proto::encode_become(request)))
    become_pending_.push_back({request.request, {std::move(reply), connection_.hellos(), {}}});
  else fail(*reply, std::make_exception_ptr(Error("not connected to the manager")));
}

void ZmqBossLink::request_kept_result(const proto::ResultQuery& query,
                                      std::shared_ptr<KeptResultPromise> reply) {
  if (connection_.send(proto::encode_fetch_result(query)))
    kept_pending_.push_back({query.request, {std::move(reply), connection_.hellos(), {}}});
  else fail(*reply, std::make_exception_ptr(Error("not connected to the manager")));
}

bool ZmqBossLink::requests_pending() const {
  return !status_pending_.empty() || !cancel_pending_.empty() || !become_pending_.empty() ||
         !kept_pending_.empty();
}

void ZmqBossLink::heartbeat() { connection_.send(proto::encode_heartbeat()); }

void ZmqBossLink::close(std::string_view reason) {
  connection_.send(proto::encode_bye(reason));
  fail_pending(~0ull, "the connection is closing", false);
  closed_ = true;
}

}  // namespace uni::broker
