// The worker's link to the built-in manager over ZeroMQ + CURVE
// (docs/protocol.md): HELLO with the held tasks on every (re)connection,
// TASKS, MODULE, CANCEL and ACK in, CREDIT, FETCH_MODULE, RESULT (cut into
// batches by their encoded size), HEARTBEAT and BYE out.
#pragma once

#include <optional>
#include <string>
#include <vector>
#include <zmq.hpp>

#include "broker/worker_link.hpp"
#include "broker/zmq/manager_connection.hpp"
#include "common/keys.hpp"

namespace uni::broker {

class ZmqWorkerLink final : public WorkerLink, private ManagerConnection::Peer {
 public:
  // The worker's id travels in its HELLO (the announcement of open()), with
  // a random secret of this link's own, which only it knows: a reconnection
  // of this worker is told from another peer claiming its id by it.
  ZmqWorkerLink(const CurveKeys& keys, const std::string& address);

  BrokerInfo open(const WorkerAnnouncement& worker, std::chrono::milliseconds timeout) override;
  void add_poll_items(std::vector<PollItem>& items) override;
  void poll(std::vector<PollItem>& items, std::chrono::milliseconds timeout) override;
  void process(const PollItem* ready, WorkerEvents& events) override;
  bool grant_credit(std::uint32_t capacity) override;
  void fetch_module(const ModuleHash& hash) override;
  void send_results(const std::vector<const proto::Result*>& results) override;
  void send_become_reply(const proto::BecomeReply& reply) override;
  void heartbeat(std::uint32_t busy, const std::vector<proto::TaskId>& started_services) override;
  void set_note(const std::string& note) override { note_ = note; }
  void close(std::string_view reason) override;
  const BrokerIdentity& identity() const override { return identity_; }

 private:
  // ManagerConnection::Peer
  std::string hello(bool reconnect) override;
  void on_welcome(const proto::Welcome& welcome) override;
  void on_message(const proto::Message& m) override;
  void on_dropped() override;

  CurveKeys keys_;
  BrokerIdentity identity_;
  std::string address_;
  std::string secret_;
  std::string note_;  // sent with each heartbeat (set_note)
  zmq::context_t context_{1};
  // Made by the first open(); kept by the next ones (ManagerConnection::open
  // says why).
  std::optional<ManagerConnection> connection_;
  WorkerEvents* events_ = nullptr;  // during process()
};

}  // namespace uni::broker
