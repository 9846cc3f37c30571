// The boss's link to a NATS JetStream cluster: broker::BossLink over
// BossEngine, with no manager. The engine's eventfd is the link's poll item;
// status and cancel are answered at once from the cluster's own state
// (registries, streams); a become waits for the service's worker on a thread
// of its own (nats/boss/boss_becomes.hpp), whose eventfd is the second poll
// item. Detached tasks go straight to the streams (nats/boss/detached_tasks.hpp),
// with no engine.
#pragma once

#include <memory>
#include <string>

#include "broker/boss_link.hpp"
#include "nats/boss/boss_becomes.hpp"
#include "nats/boss/boss_engine.hpp"

namespace uni::nats {

class NatsBossLink final : public broker::BossLink {
 public:
  // `address`: "nats://h1:4222,nats://h2:4222" (credentials and TLS as
  // EngineConfig::from_environment reads them). Connects in open().
  NatsBossLink(std::string address, std::uint64_t session);
  ~NatsBossLink() override;

  broker::BrokerInfo open(std::chrono::milliseconds timeout) override;
  void add_poll_items(std::vector<broker::PollItem>& items) override;
  void process(const broker::PollItem* ready, broker::BossEvents& events) override;
  void submit(const std::vector<broker::Submission>& tasks) override;
  void put_module(const ModuleHash& hash, std::string_view platform, std::string_view bytes,
                  const proto::ModuleSignatures& signatures) override;
  void acknowledge(const std::vector<proto::TaskId>& ids) override;
  void cancel(const std::vector<proto::TaskId>& ids,
              std::shared_ptr<broker::CancelPromise> reply) override;
  void request_status(std::shared_ptr<broker::StatusPromise> reply) override;
  void request_become(const proto::BecomeRequest& request,
                      std::shared_ptr<broker::BecomePromise> reply) override;
  bool keeps_detached_tasks() const override { return true; }
  proto::TaskId submit_detached(const broker::DetachedTask& task) override;
  std::optional<proto::Result> detached_result(const proto::TaskId& id,
                                               std::chrono::milliseconds wait) override;
  bool requests_pending() const override { return becomes_ && becomes_->pending(); }
  void heartbeat() override {}
  void close(std::string_view reason) override;
  // The cluster's last answer to this boss (a result, a stored batch, its
  // registry entry): no quorum, no answer.
  Clock::time_point last_heard() const override;
  std::string silence_reason() const override { return engine_ ? engine_->trouble() : ""; }
  const broker::BrokerIdentity& identity() const override { return identity_; }

 private:
  std::string address_;
  broker::BrokerIdentity identity_;
  std::uint64_t session_;
  std::unique_ptr<BossEngine> engine_;
  std::unique_ptr<BossBecomes> becomes_;  // on engine_'s connection: goes first
};

}  // namespace uni::nats
