// The worker's link to the built-in manager over ZeroMQ + CURVE
// (docs/protocol.md): HELLO with the held tasks on every (re)connection,
// TASKS, MODULE, CANCEL and ACK in, CREDIT, FETCH_MODULE, RESULT (cut into
// batches by their encoded size), HEARTBEAT and BYE out.
#pragma once

#include <optional>
#include <string>
#include <vector>
#include <zmq.hpp>

#include "broker/manager_connection.hpp"
#include "broker/worker_link.hpp"
#include "common/keys.hpp"

namespace uni::broker {

class ZmqWorkerLink final : public WorkerLink, private ManagerConnection::Peer {
 public:
  // The worker's id travels in its HELLO (WorkerAnnouncement), with a random
  // secret of this link's own, which only it knows: a reconnection of this
  // worker is told from another peer claiming its id by it.
  ZmqWorkerLink(const CurveKeys& keys, const std::string& address);

  BrokerInfo open(const WorkerAnnouncement& worker, std::chrono::milliseconds timeout) override;
  void add_poll_items(std::vector<zmq_pollitem_t>& items) override;
  void process(const zmq_pollitem_t* ready, WorkerEvents& events) override;
  bool grant_credit(std::uint32_t capacity) override;
  void fetch_module(const ModuleHash& hash) override;
  void send_results(const std::vector<const proto::Result*>& results) override;
  void send_become_reply(const proto::BecomeReply& reply) override;
  void heartbeat(std::uint32_t busy, const std::vector<proto::TaskId>& started_services) override;
  void close(std::string_view reason) override;
  const std::string& address() const override { return address_; }

 private:
  // ManagerConnection::Peer
  std::string hello(bool reconnect) override;
  void on_welcome(const proto::Welcome& welcome) override;
  void on_message(const proto::Message& m) override;
  void on_dropped() override;

  CurveKeys keys_;
  std::string address_;
  std::string secret_;
  zmq::context_t context_{1};
  // Replaced by a fresh one after a failed open(): the old socket holds a
  // connect() that never completed.
  std::optional<ManagerConnection> connection_;
  bool opened_once_ = false;
  WorkerEvents* events_ = nullptr;  // during process()
};

}  // namespace uni::broker
