// Drives a ManagerCore the way manager.cpp does — HELLO, heard_from, one
// handler per message, dispatch, flush, timers — with no socket and a clock
// the test moves by hand. What the core sends is kept per peer and read back
// through the protocol's own decoder. Peers can be made unreachable, so that
// sends fail as they do on a ROUTER socket whose peer is gone.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "common/files.hpp"
#include "manager/manager_core.hpp"
#include "uni/detail/platform.hpp"

namespace uni::manager::testing {

using namespace std::chrono_literals;
using proto::Status;
using proto::TaskId;
using proto::Type;

inline const std::string& module_bytes() {
  static const std::string bytes = read_file(std::string(UNI_MODULE_DIR) + "/libfactorial.so");
  return bytes;
}
inline ModuleHash module_hash() { return ModuleHash::of(module_bytes()); }

inline constexpr const char* kPlatform = UNI_PLATFORM_TAG;

// factorial(5) of the test module, with whatever flags and limits a test sets.
inline proto::Task task(std::uint64_t session, std::uint64_t seq, std::uint8_t flags = 0,
                        std::uint8_t max_attempts = 3, std::uint32_t wait_ms = 0) {
  proto::Task t;
  t.id = {session, seq};
  t.module = module_hash();
  t.function = "factorial";
  t.args = std::string("\x91\x05", 2);
  t.max_attempts = max_attempts;
  t.flags = flags;
  t.wait_ms = wait_ms;
  return t;
}

inline proto::Result result(const TaskId& id, Status status = Status::kOk,
                            std::string payload = std::string("\x78", 1)) {
  proto::Result r;
  r.id = id;
  r.status = status;
  r.payload = std::move(payload);
  r.pid = 4242;
  return r;
}

class CoreHarness {
 public:
  explicit CoreHarness(ManagerConfig config = {}) : config_(std::move(config)) { start(); }

  // A fresh core, as after a manager restart: peers keep their state, the
  // manager has none, and the recovery window opens now.
  void start() {
    core_ = std::make_unique<ManagerCore>(config_, "m-test", "tcp://127.0.0.1:7070", now);
    sent_.clear();
  }

  ManagerCore& core() { return *core_; }
  const ManagerConfig& config() const { return config_; }

  // ---- time ----
  void advance(std::chrono::milliseconds d) { now += d; }
  // The loop's timer step: on_timer, then a turn.
  void tick() {
    core_->on_timer(now, out_);
    turn();
  }
  // What the loop does after reading messages: dispatch, flush, send.
  void turn() {
    core_->dispatch();
    core_->flush(out_);
    deliver();
  }

  // ---- who peers are ----
  // The key a peer's connection was admitted with: the shared authkey's
  // identity unless a test names another (keyed identities: identity()).
  std::map<PeerId, std::shared_ptr<const Identity>> keys;
  std::shared_ptr<const Identity> key_of(const PeerId& peer) const {
    auto it = keys.find(peer);
    return it != keys.end() ? it->second : shared_identity();
  }
  static std::shared_ptr<const Identity> shared_identity() {
    static const auto shared = [] {
      auto id = std::make_shared<Identity>();
      id->name = "authkey";
      id->role = Role::kAdmin;
      id->shared = true;
      return id;
    }();
    return shared;
  }
  // A key of a clients file: `tag` is its owner tag (its first four bytes).
  static std::shared_ptr<const Identity> identity(const std::string& name, Role role,
                                                  std::uint32_t tag) {
    auto id = std::make_shared<Identity>();
    id->name = name;
    id->role = role;
    id->public_key = std::string(32, '\0');
    for (int i = 0; i < 4; ++i) id->public_key[i] = static_cast<char>(tag >> (24 - 8 * i));
    id->public_key[31] =
        static_cast<char>(name.size());  // distinct keys, same tag: a test's choice
    id->owner_tag = tag;
    return id;
  }

  // ---- peers saying things ----
  void boss_hello(const PeerId& boss, std::uint64_t session, std::string secret = "") {
    proto::Hello h;
    h.role = "boss";
    h.session = session;
    h.secret = std::move(secret);
    core_->on_hello(boss, h, key_of(boss), now, out_);
    deliver();
    turn();
  }
  void worker_hello(const PeerId& worker, std::uint32_t capacity,
                    std::vector<proto::RunningTask> running = {}, std::uint32_t slots = 1,
                    std::string worker_id = "", std::string secret = "s") {
    proto::Hello h;
    h.role = "worker";
    h.secret = std::move(secret);
    h.worker_id = worker_id.empty() ? "w-" + worker : worker_id;
    h.host = "host-" + worker;
    h.pid = 100;
    h.slots = slots;
    h.capacity = capacity;
    h.platform = kPlatform;
    h.isolation = "process";
    h.running = std::move(running);
    core_->on_hello(worker, h, key_of(worker), now, out_);
    deliver();
    turn();
  }
  void submit(const PeerId& boss, std::vector<proto::Task> tasks) {
    Submission s;
    s.tasks = std::move(tasks);
    submit(boss, std::move(s));
  }
  void submit(const PeerId& boss, Submission submission) {
    heard(boss);
    core_->on_submit(boss, std::move(submission), now, out_);
    deliver();
    turn();
  }
  void put_module(const PeerId& boss, std::string bytes = module_bytes()) {
    heard(boss);
    proto::ModuleUpload up;
    up.hash = ModuleHash::of(bytes);
    up.platform = kPlatform;
    up.bytes = std::move(bytes);
    core_->on_put_module(boss, std::move(up), now, out_);
    deliver();
    turn();
  }
  void ack(const PeerId& boss, std::vector<TaskId> ids) {
    heard(boss);
    core_->on_ack(boss, ids, out_);
    deliver();
    turn();
  }
  void cancel(const PeerId& peer, std::vector<TaskId> ids) {
    heard(peer);
    core_->on_cancel(peer, ids, out_);
    deliver();
    turn();
  }
  void results(const PeerId& worker, std::vector<proto::Result> rs) {
    heard(worker);
    core_->on_result(worker, std::move(rs), out_);
    deliver();
    turn();
  }
  void heartbeat(const PeerId& worker, std::uint32_t busy, std::vector<TaskId> started = {}) {
    heard(worker);
    core_->on_heartbeat(worker, busy, started, out_);
    deliver();
    turn();
  }
  void boss_heartbeat(const PeerId& boss) {
    heard(boss);
    turn();
  }
  void credit(const PeerId& worker, std::uint32_t capacity) {
    heard(worker);
    core_->on_credit(worker, capacity);
    turn();
  }
  void bye(const PeerId& peer) {
    heard(peer);
    core_->on_bye(peer, "leaving", out_);
    deliver();
    turn();
  }

  // Sends to these peers fail, as to a disconnected ROUTER peer.
  std::set<PeerId> unreachable;

  // ---- what the core sent (each read takes those messages away) ----
  std::vector<proto::Task> tasks_to(const PeerId& peer) {
    std::vector<proto::Task> out;
    for (const std::string& m : take(peer, Type::kTasks))
      for (proto::Task& t : parse(m).tasks()) out.push_back(std::move(t));
    return out;
  }
  std::vector<proto::Result> results_to(const PeerId& peer) {
    std::vector<proto::Result> out;
    for (const std::string& m : take(peer, Type::kResult))
      for (proto::Result& r : parse(m).results()) out.push_back(std::move(r));
    return out;
  }
  // ACK, CANCEL, SERVICE_STARTED: the ids of every such message.
  std::vector<TaskId> ids_to(const PeerId& peer, Type type) {
    std::vector<TaskId> out;
    for (const std::string& m : take(peer, type))
      for (const TaskId& id : parse(m).task_ids()) out.push_back(id);
    return out;
  }
  std::vector<proto::CancelOutcome> cancel_replies_to(const PeerId& peer) {
    std::vector<proto::CancelOutcome> out;
    for (const std::string& m : take(peer, Type::kCancelReply))
      for (const proto::CancelOutcome& o : parse(m).cancel_outcomes()) out.push_back(o);
    return out;
  }
  std::vector<std::string> texts_to(const PeerId& peer, Type type) {  // NOTICE, BYE
    std::vector<std::string> out;
    for (const std::string& m : take(peer, type)) out.push_back(parse(m).text());
    return out;
  }
  std::vector<proto::ErrorMessage> errors_to(const PeerId& peer) {
    std::vector<proto::ErrorMessage> out;
    for (const std::string& m : take(peer, Type::kError)) out.push_back(parse(m).error());
    return out;
  }
  std::size_t count_to(const PeerId& peer, Type type) { return take(peer, type).size(); }
  // Whole encoded messages of one type (for types with no reader above).
  std::vector<std::string> messages_to(const PeerId& peer, Type type) { return take(peer, type); }
  // A message the harness has no method for: the core's handler is called
  // with an outbox the harness delivers, then a turn.
  template <class Handle>
  void say(const PeerId& peer, Handle&& handle) {
    heard(peer);
    handle(*core_, out_);
    deliver();
    turn();
  }
  // Messages of any type still unread for this peer (heartbeats excluded).
  std::vector<Type> unread(const PeerId& peer) const {
    std::vector<Type> out;
    for (const Outgoing& o : sent_)
      if (o.to == peer && parse(o.message).type() != Type::kHeartbeat)
        out.push_back(parse(o.message).type());
    return out;
  }
  void forget_sent() { sent_.clear(); }

  proto::StatusReport status() { return core_->status(now); }
  const TaskRecord* record(const TaskId& id) const { return core_->tasks().find(id); }

  Clock::time_point now = Clock::time_point(std::chrono::hours(1000));

 private:
  static proto::Message parse(const std::string& m) {
    return proto::Message::parse(m.data(), m.size());
  }

  void heard(const PeerId& peer) {
    ASSERT_NE(core_->heard_from(peer, now), ManagerCore::Role::kUnknown)
        << peer << " never said HELLO";
  }

  void deliver() {
    while (!out_.empty()) {
      std::vector<Outgoing> batch;
      std::swap(batch, out_.items());
      for (Outgoing& o : batch) {
        if (unreachable.count(o.to)) core_->undelivered(o, out_);
        else sent_.push_back(std::move(o));
      }
    }
  }

  std::vector<std::string> take(const PeerId& peer, Type type) {
    std::vector<std::string> out;
    std::vector<Outgoing> keep;
    for (Outgoing& o : sent_) {
      if (o.to == peer && parse(o.message).type() == type) out.push_back(std::move(o.message));
      else keep.push_back(std::move(o));
    }
    sent_ = std::move(keep);
    return out;
  }

  ManagerConfig config_;
  std::unique_ptr<ManagerCore> core_;
  Outbox out_;
  std::vector<Outgoing> sent_;
};

}  // namespace uni::manager::testing
