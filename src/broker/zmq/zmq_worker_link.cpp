// The worker's link to the built-in manager (see zmq_worker_link.hpp).
#include "broker/zmq/zmq_worker_link.hpp"

#include "broker/zmq/socket_poll.hpp"
#include "common/log.hpp"
#include "proto/batch.hpp"
#include "proto/chunks.hpp"

namespace uni::broker {

namespace {

proto::Hello hello_of(const WorkerAnnouncement& w, const std::string& secret) {
  proto::Hello h;
  h.role = "worker";
  h.secret = secret;
  h.worker_id = w.worker_id;
  h.host = w.host;
  h.pid = w.pid;
  h.slots = w.slots;
  h.capacity = w.capacity;
  h.platform = w.platform;
  h.isolation = w.isolation;
  h.also_platforms = w.also_platforms;
  h.running = w.held;
  return h;
}

}  // namespace

ZmqWorkerLink::ZmqWorkerLink(const CurveKeys& keys, const std::string& address)
    : keys_(keys),
      identity_(manager_identity(address)),
      address_(identity_.address),
      secret_(proto::new_hello_secret()) {}

BrokerInfo ZmqWorkerLink::open(const WorkerAnnouncement& worker,
                               std::chrono::milliseconds timeout) {
  // One connection for the link's life: open() again after an attempt nobody
  // answered goes on with the same socket (ManagerConnection::open).
  if (!connection_) connection_.emplace(context_, keys_, address_, "worker");
  return broker_info(connection_->open(proto::encode_hello(hello_of(worker, secret_)), timeout));
}

std::string ZmqWorkerLink::hello(bool reconnect) {
  WorkerAnnouncement worker = events_->announce();
  if (reconnect)
    log::info("reconnected to the manager: announcing {} held task(s)", worker.held.size());
  return proto::encode_hello(hello_of(worker, secret_));
}

void ZmqWorkerLink::add_poll_items(std::vector<PollItem>& items) {
  connection_->add_poll_items(items);
}

void ZmqWorkerLink::poll(std::vector<PollItem>& items, std::chrono::milliseconds timeout) {
  poll_sockets(items, timeout);
}

void ZmqWorkerLink::process(const PollItem* ready, WorkerEvents& events) {
  events_ = &events;
  connection_->process(ready, *this);
  events_ = nullptr;
}

void ZmqWorkerLink::on_welcome(const proto::Welcome& welcome) {
  events_->on_reconnected(broker_info(welcome));
}

void ZmqWorkerLink::on_dropped() {
  events_->on_disconnected("the connection to the manager at " + address_ + " dropped");
}

void ZmqWorkerLink::on_message(const proto::Message& m) {
  using proto::Type;
  switch (m.type()) {
    case Type::kTasks: {
      std::vector<proto::Task> tasks = m.tasks();
      events_->on_tasks(tasks);
      return;
    }
    case Type::kModule: {
      proto::ModuleReply reply = m.module_reply();
      events_->on_module(reply);
      return;
    }
    case Type::kCancel: events_->on_cancel(m.task_ids()); return;
    case Type::kAck: events_->on_results_stored(m.task_ids()); return;
    case Type::kBecome: events_->on_become(proto::read_become(m)); return;
    case Type::kBye: events_->on_broker_leaving(m.text()); return;
    default: log::warn("unexpected {} from the manager", proto::type_name(m.type()));
  }
}

bool ZmqWorkerLink::grant_credit(std::uint32_t capacity) {
  return connection_->send(proto::encode_credit(capacity));
}

void ZmqWorkerLink::fetch_module(const ModuleHash& hash) {
  connection_->send(proto::encode_fetch_module(hash));
}

void ZmqWorkerLink::send_become_reply(const proto::BecomeReply& reply) {
  connection_->send(proto::encode_become_reply(reply));
}

void ZmqWorkerLink::send_results(const std::vector<const proto::Result*>& results) {
  // Unsent batches (no connection) are fine: the worker keeps its results
  // until they are acknowledged and sends them again after the next WELCOME.
  // Batches fit in one frame; only a single large result travels in chunks.
  proto::Batcher<proto::Result> batches(proto::kPeerBatchBytes,
                                        [this](const std::vector<const proto::Result*>& batch) {
                                          connection_->send(proto::encode_results(batch));
                                        });
  for (const proto::Result* r : results) batches.add(*r);
  batches.flush();
}

void ZmqWorkerLink::heartbeat(std::uint32_t busy,
                              const std::vector<proto::TaskId>& started_services) {
  connection_->send(proto::encode_worker_heartbeat(busy, started_services, note_));
}

void ZmqWorkerLink::close(std::string_view reason) {
  if (connection_) connection_->send(proto::encode_bye(reason));
}

}  // namespace uni::broker
