// NatsWorkerLink: WorkerLink calls onto WorkerEngine (see nats_worker_link.hpp).
#include "nats/link/nats_worker_link.hpp"

#include "common/log.hpp"
#include "nats/link/link_common.hpp"

namespace uni::nats {

NatsWorkerLink::NatsWorkerLink(std::string address)
    : address_(std::move(address)), identity_(cluster_identity(address_)) {}

NatsWorkerLink::~NatsWorkerLink() = default;

broker::BrokerInfo NatsWorkerLink::open(const broker::WorkerAnnouncement& worker,
                                        std::chrono::milliseconds timeout) {
  WorkerIdentity identity{.id = worker.worker_id,
                          .host = worker.host,
                          .platform = worker.platform,
                          .isolation = worker.isolation,
                          .pid = worker.pid,
                          .slots = worker.slots};
  becomes_.reset();  // on the connection of the engine it replaces
  try {
    EngineConfig config = link_config(address_, timeout);
    const Names names = config.names;
    engine_ = std::make_unique<WorkerEngine>(std::move(config), std::move(identity));
    becomes_ = std::make_unique<BecomeListener>(engine_->connection(), names, worker.worker_id);
  } catch (const std::exception& e) {
    throw_connect_failure(e);
  }
  engine_->set_credit(worker.capacity);
  engine_->set_note(note_);  // a worker reconnecting may be out of service
  return nats_broker_info(engine_->connection());
}

void NatsWorkerLink::add_poll_items(std::vector<broker::PollItem>& items) {
  items.push_back({nullptr, engine_->wake_fd(), broker::kPollIn, 0});
  items.push_back({nullptr, becomes_->wake_fd(), broker::kPollIn, 0});
}

void NatsWorkerLink::process(const broker::PollItem* ready, broker::WorkerEvents& events) {
  if (ready[1].revents & broker::kPollIn)
    for (const proto::BecomeRequest& request : becomes_->take()) events.on_become(request);
  if (!(ready[0].revents & broker::kPollIn)) return;
  WorkerEngineEvents got = engine_->take();
  for (proto::ModuleReply& m : got.modules) events.on_module(m);
  // Stored before tasks: a task given back (or crashed) and queued again
  // can come back here in the same take(); the supervisor must forget the
  // old one first, or it drops the new one as a duplicate and then forgets it.
  if (!got.stored.empty()) events.on_results_stored(got.stored);
  if (!got.tasks.empty()) events.on_tasks(got.tasks);
  if (!got.cancels.empty()) events.on_cancel(got.cancels);
}

bool NatsWorkerLink::grant_credit(std::uint32_t capacity) {
  engine_->set_credit(capacity);
  return true;
}

void NatsWorkerLink::fetch_module(const ModuleHash& hash) { engine_->fetch_module(hash); }

void NatsWorkerLink::send_results(const std::vector<const proto::Result*>& results) {
  engine_->send_results(results);
}

void NatsWorkerLink::heartbeat(std::uint32_t busy, const std::vector<proto::TaskId>& started) {
  engine_->heartbeat(busy, started);
}

void NatsWorkerLink::set_note(const std::string& note) {
  note_ = note;
  if (engine_) engine_->set_note(note);
}

void NatsWorkerLink::send_become_reply(const proto::BecomeReply& reply) {
  if (!becomes_) return;  // closed: nothing is sent after it
  proto::BecomeReply answer = reply;
  if (reply.ok)
    if (std::optional<proto::BecomeRequest> asked = becomes_->find(reply.request))
      answer.becomes = engine_->service_became(reply.service, asked->module, asked->function);
  try {
    if (!becomes_->answer(std::move(answer)))
      log::debug("NATS: no become request {} to answer (answered already)", reply.request);
  } catch (const std::exception& e) {
    // The boss gives up at its deadline and says the outcome is unknown.
    log::warn("NATS: answering the become of service {}: {}", reply.service.str(), e.what());
  }
}

void NatsWorkerLink::close(std::string_view) {
  becomes_.reset();
  // Stores the results sent so far, gives back held batches, leaves the registry.
  engine_.reset();
}

}  // namespace uni::nats
