// The boss's link to the built-in manager over ZeroMQ + CURVE (docs/protocol.md):
// SUBMIT cut into batches by their encoded size, PUT_MODULE on NEED_MODULE,
// ACK, CANCEL, STATUS, BECOME and FETCH_RESULT with their replies, HEARTBEAT
// and BYE. STATUS and CANCEL replies carry no request id: the manager answers
// those in order, so each kind waits in a queue; a cancel reply is matched by
// the ids it lists; BECOME and FETCH_RESULT replies, which may come in any
// order, by their request id. Whatever awaits a reply fails when the
// connection drops (or the manager turns out to have restarted) instead of
// taking a later request's answer.
#pragma once

#include <deque>
#include <memory>
#include <string>
#include <vector>
#include <zmq.hpp>

#include "broker/boss_link.hpp"
#include "broker/zmq/manager_connection.hpp"
#include "common/keys.hpp"

namespace uni::broker {

class ZmqBossLink final : public BossLink, private ManagerConnection::Peer {
 public:
  ZmqBossLink(const CurveKeys& keys, const std::string& address, std::uint64_t session);
  ~ZmqBossLink() override;

  BrokerInfo open(std::chrono::milliseconds timeout) override;
  void add_poll_items(std::vector<PollItem>& items) override;
  void poll(std::vector<PollItem>& items, std::chrono::milliseconds timeout) override;
  void process(const PollItem* ready, BossEvents& events) override;
  void submit(const std::vector<Submission>& tasks) override;
  void put_module(const ModuleHash& hash, std::string_view platform, std::string_view bytes,
                  const proto::ModuleSignatures& signatures) override;
  void acknowledge(const std::vector<proto::TaskId>& ids) override;
  void cancel(const std::vector<proto::TaskId>& ids, std::shared_ptr<CancelPromise> reply) override;
  void request_status(std::shared_ptr<StatusPromise> reply) override;
  void request_become(const proto::BecomeRequest& request,
                      std::shared_ptr<BecomePromise> reply) override;
  void request_kept_result(const proto::ResultQuery& query,
                           std::shared_ptr<KeptResultPromise> reply) override;
  bool requests_pending() const override;
  void heartbeat() override;
  void close(std::string_view reason) override;
  Clock::time_point last_heard() const override { return connection_.last_heard(); }
  const BrokerIdentity& identity() const override { return identity_; }

 private:
  // ManagerConnection::Peer
  std::string hello(bool reconnect) override;
  void on_welcome(const proto::Welcome& welcome) override;
  void on_message(const proto::Message& m) override;
  void on_dropped() override;
  void on_unknown_to_manager() override;
  void on_refused(const std::string& text, const proto::Refusal& what) override;

  // A request awaiting its reply, and the HELLO count when it was sent.
  template <class Promise>
  struct Pending {
    std::shared_ptr<Promise> reply;  // null: a cancel nobody waits on
    std::uint64_t hello = 0;
    std::vector<proto::TaskId> ids;  // cancels: what the reply must list
  };
  // `as`: the exception every request fails with, instead of one made of `why`.
  void fail_pending(std::uint64_t sent_before_hello, const std::string& why, bool connect_error,
                    std::exception_ptr as = nullptr);

  BrokerIdentity identity_;
  std::uint64_t session_;
  // Sent in every HELLO: only this link knows it, so that nobody else can
  // resume its session (docs/security.md).
  std::string secret_;
  zmq::context_t context_{1};
  ManagerConnection connection_;
  BossEvents* events_ = nullptr;  // during process()
  bool closed_ = false;
  std::deque<Pending<StatusPromise>> status_pending_;
  std::deque<Pending<CancelPromise>> cancel_pending_;
  // Matched by request id: the manager answers BECOMEs in any order.
  std::deque<std::pair<std::uint64_t, Pending<BecomePromise>>> become_pending_;
  // By request id too: a held FETCH_RESULT is answered when its task ends.
  std::deque<std::pair<std::uint64_t, Pending<KeptResultPromise>>> kept_pending_;
};

}  // namespace uni::broker
