// The manager's socket and loop: the ROUTER socket and its ZAP handler, and
// per message read -> check -> decode -> the core's handler for its type ->
// send what the core decided (docs/protocol.md). Each turn: read every
// waiting message, assign queued tasks to workers with free credit, then one
// batched TASKS message per worker and one RESULT message per boss; every
// 100 ms the timers. The logic lives in ManagerCore (manager_core.hpp).
#include "manager/manager.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <optional>
#include <random>
#include <thread>
#include <zmq.hpp>

#include "broker/zmq/transport.hpp"
#include "common/log.hpp"
#include "common/unique_fd.hpp"
#include "manager/client_directory.hpp"
#include "manager/http_server.hpp"
#include "manager/manager_core.hpp"
#include "manager/submission.hpp"
#include "proto/become.hpp"
#include "proto/kept_result.hpp"
#include "proto/messages.hpp"

namespace uni::manager {

namespace {

std::string random_hex(std::size_t bytes) {
  std::random_device rd;
  std::string out;
  static const char* digits = "0123456789abcdef";
  for (std::size_t i = 0; i < bytes; ++i) {
    unsigned v = rd() & 0xff;
    out += digits[v >> 4];
    out += digits[v & 15];
  }
  return out;
}

std::unique_ptr<ClientDirectory> make_directory(const ManagerConfig& config) {
  if (!config.clients_file.empty()) return ClientDirectory::from_file(config.clients_file);
  std::set<std::string> keys = config.extra_client_keys;
  keys.insert(config.keys.client_public);
  return std::make_unique<ClientDirectory>(keys);
}

// The hash a PUT_MODULE names, also when its other fields do not decode;
// nullopt when the hash does not decode either.
std::optional<ModuleHash> hash_of_upload(const proto::Message& m) {
  try {
    return m.module_hash();
  } catch (const proto::DecodeError&) {
    return std::nullopt;
  }
}

}  // namespace

class Manager::Impl {
 public:
  explicit Impl(ManagerConfig config)
      : config_(std::move(config)),
        clients_(make_directory(config_)),
        zap_(context_,
             [clients = clients_.get()](const std::string& key) { return clients->admit(key); }),
        router_(proto::make_router(context_, config_.keys, config_.listen, config_.max_message,
                                   endpoint_)),
        monitor_(context_, router_, "manager"),
        wake_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)),
        manager_id_(random_hex(8)),
        core_(config_, manager_id_, endpoint_, Clock::now()) {
    if (!wake_) throw std::runtime_error("eventfd failed");
    if (!config_.http.empty()) {
      board_.publish(core_.snapshot(Clock::now()), Clock::now());
      http_ = std::make_unique<HttpServer>(config_.http, board_);
    }
  }

  const std::string& endpoint() const { return endpoint_; }
  const std::string& http_url() const {
    static const std::string none;
    return http_ ? http_->url() : none;
  }

  void request_stop() {
    stop_ = true;
    wake();
  }

  void request_reload() {
    reload_ = true;
    wake();
  }

  void run();

 private:
  void wake() {
    std::uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(wake_.get(), &one, sizeof(one));
  }
  void reload_clients();
  void read_messages();
  // `body`: the frame, whose "User-Id" tells the key of its connection.
  void handle(const PeerId& peer, zmq::message_t& body);
  void handle_for_boss(const PeerId& peer, const proto::Message& m, Clock::time_point now);
  void handle_for_worker(const PeerId& peer, const proto::Message& m);
  void put_module(const PeerId& peer, const proto::Message& m, Clock::time_point now);
  // Sends what the core decided; what cannot go is handed back to it.
  void deliver();
  bool send(const PeerId& peer, const std::string& body);
  // Says that peers fail to authenticate (a worker or boss with another
  // authkey would otherwise be invisible here), at most every 10 s.
  void watch_handshakes(Clock::time_point now);

  ManagerConfig config_;
  zmq::context_t context_{1};
  std::unique_ptr<ClientDirectory> clients_;  // read by zap_, maybe on another thread
  proto::ZapHandler zap_;
  std::string endpoint_;
  zmq::socket_t router_;
  proto::SocketMonitor monitor_;         // the router's connections: failed handshakes
  std::uint64_t failed_handshakes_ = 0;  // not yet logged
  std::optional<Clock::time_point> handshakes_logged_;
  UniqueFd wake_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> reload_{false};
  std::string manager_id_;
  ManagerCore core_;
  Outbox out_;
  std::vector<Outgoing> sending_;
  // The HTTP server reads what the loop publishes here, in its own threads.
  SnapshotBoard board_;
  std::unique_ptr<HttpServer> http_;
};

// ---- loop ------------------------------------------------------------------------

void Manager::Impl::watch_handshakes(Clock::time_point now) {
  while (std::optional<proto::SocketMonitor::Event> event = monitor_.next())
    failed_handshakes_ += *event == proto::SocketMonitor::Event::kHandshakeFailed;
  if (failed_handshakes_ == 0) return;
  if (handshakes_logged_ && now - *handshakes_logged_ < std::chrono::seconds(10)) return;
  log::warn(
      "{} connection(s) failed to authenticate{}: a worker or boss with another authkey, or "
      "something that does not speak the uni protocol",
      failed_handshakes_, handshakes_logged_ ? " in the last 10 s" : "");
  failed_handshakes_ = 0;
  handshakes_logged_ = now;
}

void Manager::Impl::run() {
  log::info("manager {} listening on {}", manager_id_, endpoint_);
  if (clients_->keyed())
    log::info("admitting the {} key(s) of {} (SIGHUP reads it again)", clients_->reload(),
              clients_->path());
  zmq::pollitem_t items[] = {
      {router_.handle(), 0, ZMQ_POLLIN, 0},
      {zap_.socket().handle(), 0, ZMQ_POLLIN, 0},
      {nullptr, wake_.get(), ZMQ_POLLIN, 0},
      {monitor_.socket().handle(), 0, ZMQ_POLLIN, 0},
  };
  Clock::time_point next_timer = Clock::now();
  while (!stop_) {
    auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next_timer - Clock::now());
    proto::poll(items, 4, std::max(wait, std::chrono::milliseconds(0)));
    // ZAP first: a connecting peer's handshake waits on it.
    if (items[1].revents & ZMQ_POLLIN)
      while (zap_.socket().get(zmq::sockopt::events) & ZMQ_POLLIN) zap_.handle();
    if (items[2].revents & ZMQ_POLLIN) {
      std::uint64_t count;
      [[maybe_unused]] ssize_t n = ::read(wake_.get(), &count, sizeof(count));
    }
    if (reload_.exchange(false)) reload_clients();
    if (items[0].revents & ZMQ_POLLIN) read_messages();
    if (items[3].revents & ZMQ_POLLIN) watch_handshakes(Clock::now());
    core_.dispatch();
    core_.flush(out_);
    deliver();
    Clock::time_point now = Clock::now();
    if (now >= next_timer) {
      core_.on_timer(now, out_);
      core_.dispatch();
      core_.flush(out_);
      deliver();
      next_timer = now + std::chrono::milliseconds(100);
      if (failed_handshakes_ > 0) watch_handshakes(now);
      if (http_ && board_.wanted(now)) board_.publish(core_.snapshot(now), now);
    }
  }
  http_.reset();  // before the state its snapshots came from
  // Tell everyone connected that the manager is going; they reconnect later.
  // Peers connect with ZMQ_IMMEDIATE, and libzmq then discards what a peer
  // has not yet read when its connection drops: the connection stays open a
  // moment so that the BYEs are read, not just sent.
  bool anyone = core_.say_goodbye("manager shutting down", out_);
  deliver();
  router_.set(zmq::sockopt::linger, 500);
  if (anyone) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  log::info("manager stopped");
}

void Manager::Impl::read_messages() {
  // Bounded, so timers and the ZAP handler are served under a flood.
  for (int i = 0; i < 4096; ++i) {
    zmq::message_t peer_frame;
    if (!router_.recv(peer_frame, zmq::recv_flags::dontwait)) return;
    PeerId peer = peer_frame.to_string();
    if (!peer_frame.more()) continue;
    zmq::message_t body;
    if (!router_.recv(body, zmq::recv_flags::dontwait)) return;
    bool extra = body.more();
    while (extra) {  // a peer speaking something else sent more frames: drop them
      zmq::message_t rest;
      if (!router_.recv(rest, zmq::recv_flags::dontwait)) break;
      extra = rest.more();
    }
    handle(peer, body);
    deliver();
  }
}

void Manager::Impl::reload_clients() {
  if (!clients_->keyed()) {
    log::info("SIGHUP: no clients file to read again (this manager admits the shared authkey)");
    return;
  }
  std::size_t keys;
  try {
    keys = clients_->reload();
  } catch (const std::exception& e) {
    log::error("keeping the clients admitted so far: {}", e.what());
    return;
  }
  log::info("read {} again: {} key(s) admitted", clients_->path(), keys);
  core_.on_clients_reloaded([&](const std::string& key) { return clients_->find_key(key); }, out_);
  deliver();
}

// ---- one handler per message type ------------------------------------------------

void Manager::Impl::handle(const PeerId& peer, zmq::message_t& body) {
  const char* data = static_cast<const char*>(body.data());
  const std::size_t size = body.size();
  if (size > config_.max_message) {
    log::warn("refused a message of {} bytes (limit {})", size, config_.max_message);
    out_.send(peer, proto::encode_error("too-large", "message of " + std::to_string(size) +
                                                         " bytes exceeds the manager's limit of " +
                                                         std::to_string(config_.max_message) +
                                                         " bytes (--max-message)"));
    return;
  }
  try {
    proto::Message m = proto::Message::parse(data, size);
    if (m.version() != proto::kVersion) {
      out_.send(peer,
                proto::encode_error(
                    "version", "protocol version mismatch: this manager speaks version " +
                                   std::to_string(proto::kVersion) + ", the peer sent version " +
                                   std::to_string(m.version()) + " (upgrade the older side)"));
      return;
    }
    Clock::time_point now = Clock::now();
    using proto::Type;
    if (m.type() == Type::kHello) {
      // The key its connection was admitted with (ZAP's user id); a key
      // removed from the clients file since is refused by the core.
      const char* user = body.gets("User-Id");
      return core_.on_hello(peer, m.hello(), user ? clients_->find(user) : nullptr, now, out_);
    }
    ManagerCore::Role role = core_.heard_from(peer, now);
    if (role == ManagerCore::Role::kUnknown) {
      // Typically a peer from before a manager restart: it says HELLO again.
      out_.send(peer, proto::encode_error("hello-required", "unknown peer: send HELLO first"));
      return;
    }
    switch (m.type()) {
      case Type::kHeartbeat:
        if (role == ManagerCore::Role::kWorker)
          core_.on_heartbeat(peer, m.busy(), m.started_services(), out_, m.worker_note());
        return;
      case Type::kBye: return core_.on_bye(peer, m.text(), out_);
      case Type::kCancel: return core_.on_cancel(peer, m.task_ids(), out_);
      case Type::kStatus: return core_.on_status(peer, now, out_);
      default: break;
    }
    if (role == ManagerCore::Role::kBoss) handle_for_boss(peer, m, now);
    else handle_for_worker(peer, m);
  } catch (const proto::DecodeError& e) {
    log::warn("malformed message ({} bytes): {}", size, e.what());
    out_.send(peer,
              proto::encode_error("malformed", std::string("malformed message: ") + e.what()));
  } catch (const std::exception& e) {
    // Whatever one message does (exhausts memory, say), the manager serves on.
    log::error("failed to handle a message of {} bytes: {}", size, e.what());
    out_.send(peer, proto::encode_error("malformed",
                                        std::string("cannot handle this message: ") + e.what()));
  }
}

void Manager::Impl::handle_for_boss(const PeerId& peer, const proto::Message& m,
                                    Clock::time_point now) {
  using proto::Type;
  switch (m.type()) {
    case Type::kSubmit: return core_.on_submit(peer, read_submission(m), now, out_);
    case Type::kPutModule: return put_module(peer, m, now);
    case Type::kAck: return core_.on_ack(peer, m.task_ids(), out_);
    case Type::kBecome: return core_.on_become(peer, proto::read_become(m), now, out_);
    case Type::kFetchResult:
      return core_.on_fetch_result(peer, proto::read_fetch_result(m), now, out_);
    default:
      out_.send(peer,
                proto::encode_error("malformed", std::string("unexpected ") +
                                                     proto::type_name(m.type()) + " from a boss"));
  }
}

void Manager::Impl::handle_for_worker(const PeerId& peer, const proto::Message& m) {
  using proto::Type;
  switch (m.type()) {
    case Type::kResult: return core_.on_result(peer, m.results(), out_);
    case Type::kFetchModule: return core_.on_fetch_module(peer, m.module_hash(), out_);
    case Type::kCredit: return core_.on_credit(peer, m.credit());
    case Type::kBecomeReply: return core_.on_become_reply(peer, proto::read_become_reply(m), out_);
    default:
      out_.send(peer, proto::encode_error("malformed", std::string("unexpected ") +
                                                           proto::type_name(m.type()) +
                                                           " from a worker"));
  }
}

void Manager::Impl::put_module(const PeerId& peer, const proto::Message& m, Clock::time_point now) {
  proto::ModuleUpload upload;
  try {
    upload = m.module_upload();
  } catch (const proto::DecodeError& e) {
    // The tasks waiting for this module would wait for ever: fail them, if
    // the hash reads (otherwise the ERROR is all the boss can be told).
    if (auto hash = hash_of_upload(m))
      core_.refuse_module(peer, *hash, std::string("malformed PUT_MODULE: ") + e.what(), out_);
    throw;
  }
  core_.on_put_module(peer, std::move(upload), now, out_);
}

// ---- sending ---------------------------------------------------------------------

void Manager::Impl::deliver() {
  // What the core does with an undelivered message adds no TASKS or RESULT
  // of its own, so this ends.
  while (!out_.empty()) {
    std::swap(sending_, out_.items());
    for (const Outgoing& message : sending_)
      if (!send(message.to, message.message)) core_.undelivered(message, out_);
    sending_.clear();
  }
}

bool Manager::Impl::send(const PeerId& peer, const std::string& body) {
  try {
    if (!router_.send(zmq::buffer(peer), zmq::send_flags::sndmore | zmq::send_flags::dontwait))
      return false;
    zmq::message_t frame(body.data(), body.size());
    return router_.send(frame, zmq::send_flags::dontwait).has_value();
  } catch (const zmq::error_t& e) {
    // EHOSTUNREACH: the peer is not connected (ROUTER_MANDATORY). Its state
    // stays; it is brought up to date when it says HELLO again.
    if (e.num() != EHOSTUNREACH) log::warn("send failed: {}", e.what());
    return false;
  }
}

// ---- public face -------------------------------------------------------------------------

Manager::Manager(ManagerConfig config) : impl_(std::make_unique<Impl>(std::move(config))) {}
Manager::~Manager() = default;
const std::string& Manager::endpoint() const { return impl_->endpoint(); }
const std::string& Manager::http_url() const { return impl_->http_url(); }
void Manager::run() { impl_->run(); }
void Manager::request_stop() { impl_->request_stop(); }
void Manager::request_reload() { impl_->request_reload(); }

}  // namespace uni::manager
