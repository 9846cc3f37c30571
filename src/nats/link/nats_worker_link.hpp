// The worker's link to a NATS JetStream cluster: broker::WorkerLink over
// WorkerEngine, with no manager. Credit bounds what the engine fetches;
// results are stored on their boss's subject before their batch is acked;
// become requests come on the worker's own subject
// (nats/store/become_channel.hpp), whose listener's eventfd is the second
// poll item.
#pragma once

#include <memory>
#include <string>

#include "broker/worker_link.hpp"
#include "nats/store/become_channel.hpp"
#include "nats/worker/worker_engine.hpp"

namespace uni::nats {

class NatsWorkerLink final : public broker::WorkerLink {
 public:
  // The worker names itself in the announcement of open().
  explicit NatsWorkerLink(std::string address);
  ~NatsWorkerLink() override;

  broker::BrokerInfo open(const broker::WorkerAnnouncement& worker,
                          std::chrono::milliseconds timeout) override;
  void add_poll_items(std::vector<broker::PollItem>& items) override;
  void process(const broker::PollItem* ready, broker::WorkerEvents& events) override;
  bool grant_credit(std::uint32_t capacity) override;
  void fetch_module(const ModuleHash& hash) override;
  void send_results(const std::vector<const proto::Result*>& results) override;
  void heartbeat(std::uint32_t busy, const std::vector<proto::TaskId>& started_services) override;
  // In the worker's registry entry, with each heartbeat.
  void set_note(const std::string& note) override;
  // To the boss that asked; a success is also written to the service's
  // registry entry (its new module and function, its becomes).
  void send_become_reply(const proto::BecomeReply& reply) override;
  void close(std::string_view reason) override;
  const broker::BrokerIdentity& identity() const override { return identity_; }

 private:
  std::string address_;
  broker::BrokerIdentity identity_;
  std::unique_ptr<WorkerEngine> engine_;
  std::string note_;                         // set_note(), given to each engine
  std::unique_ptr<BecomeListener> becomes_;  // on engine_'s connection: goes first
};

}  // namespace uni::nats
