// The manager's socket and loop: the ROUTER socket, its ZAP handler (which
// admits by the client directory) and its handshake guard, each on a thread
// of its own, and per message read -> reassemble (CHUNK runs) -> check ->
// decode -> the core's handler for its type -> send what the core decided
// (docs/protocol.md). Each turn: read the waiting messages (a bounded number
// of messages and bytes, libzmq taking one from each peer in turn), assign
// queued tasks to workers with free credit, then one batched TASKS message
// per worker and one RESULT message per boss; every 100 ms the timers. A
// peer that keeps sending what does not decode loses its connection
// (ErrorBudget). The logic lives in ManagerCore (manager_core.hpp).
#include "manager/manager.hpp"

#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <optional>
#include <random>
#include <thread>
#include <zmq.hpp>

#include "broker/zmq/handshake_guard.hpp"
#include "broker/zmq/transport.hpp"
#include "common/descriptors.hpp"
#include "common/log.hpp"
#include "common/wake_fd.hpp"
#include "manager/chunk_assembler.hpp"
#include "manager/client_directory.hpp"
#include "manager/error_budget.hpp"
#include "manager/http_server.hpp"
#include "manager/manager_core.hpp"
#include "manager/submission.hpp"
#include "proto/become.hpp"
#include "proto/chunks.hpp"
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

// The manager's one ZAP policy, run on the ZAP handler's thread: the client
// directory's lookup (the keys of --clients, each with its role, or the
// shared authkey's keys). An admitted connection's user id is its key in
// Z85, which the manager reads back from its HELLO.
proto::ZapPolicy zap_policy(const ClientDirectory& clients) {
  return [&clients](const proto::ZapRequest& request) {
    proto::ZapVerdict verdict;
    if (request.mechanism != "CURVE") return verdict;
    if (std::optional<std::string> user = clients.admit(request.client_key)) {
      verdict.admitted = true;
      verdict.user_id = std::move(*user);
    }
    return verdict;
  };
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

// Per turn of the loop, messages and bytes read at most: then the turn's
// dispatch, sends and timers.
constexpr int kReadsPerTurn = 4096;
constexpr std::size_t kBytesPerTurn = 8 << 20;
// msgpack values one message may hold at most, however large: with each
// value an object of 24 bytes, decoding a message costs at most 12 times
// its size, and never more than 48 MB.
constexpr std::size_t kMaxValues = std::size_t{1} << 21;
// A chunked message whose next piece does not come within this is dropped.
constexpr std::chrono::seconds kChunkIdle{30};

// All the large messages being received in chunks at once hold at most this.
std::uint64_t assembling_budget(const ManagerConfig& c) {
  return std::max<std::uint64_t>(2 * c.max_message, 64ull << 20);
}

// The IP address of a descriptor's peer, as libzmq's "Peer-Address" writes it.
std::string peer_address(int fd) {
  sockaddr_storage a{};
  socklen_t length = sizeof(a);
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&a), &length) != 0) return {};
  char text[INET6_ADDRSTRLEN] = {0};
  if (a.ss_family == AF_INET)
    ::inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(&a)->sin_addr, text, sizeof(text));
  else if (a.ss_family == AF_INET6)
    ::inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(&a)->sin6_addr, text, sizeof(text));
  return text;
}

}  // namespace

class Manager::Impl {
 public:
  explicit Impl(ManagerConfig config)
      : config_(std::move(config)),
        clients_(make_directory(config_)),
        zap_(context_, zap_policy(*clients_)),
        router_(proto::make_router(context_, config_.keys, config_.listen, endpoint_)),
        guard_(context_, router_, config_.max_pending_handshakes, proto::kHandshakeLimit),
        manager_id_(random_hex(8)),
        core_(config_, manager_id_, endpoint_, Clock::now()),
        chunks_(config_.max_message, assembling_budget(config_)) {
    note_transport(Clock::now());
    if (!config_.http.empty()) {
      board_.publish(core_.snapshot(Clock::now()), Clock::now());
      HttpOptions http;
      http.address = config_.http;
      http.token = config_.http_token;
      http.hosts = config_.http_hosts;
      http.redact = config_.http_redact;
      http_ = std::make_unique<HttpServer>(std::move(http), board_);
    }
  }

  const std::string& endpoint() const { return endpoint_; }
  const std::string& http_url() const {
    static const std::string none;
    return http_ ? http_->url() : none;
  }

  void request_stop() {
    stop_ = true;
    wake_.signal();
  }

  void request_reload() {
    reload_ = true;
    wake_.signal();
  }

  void run();

 private:
  void reload_clients();
  void read_messages();
  // One frame from `peer`: a message, or a piece of one.
  void receive(const PeerId& peer, const zmq::message_t& frame);
  // Handles one whole message, which came in `frame` (or in a CHUNK run
  // ending with it: the frame's "User-Id" tells the key of its connection);
  // false if it broke the protocol (charged to the peer's ErrorBudget).
  bool handle(const PeerId& peer, const char* data, std::size_t size, const zmq::message_t& frame);
  bool refuse_too_large(const PeerId& peer, std::uint64_t size, std::string_view head);
  // Charges a protocol error to the peer that sent `frame`; one too many
  // ends the connection it came on.
  void protocol_error(const PeerId& peer, const zmq::message_t& frame);
  void note_transport(Clock::time_point now);
  bool handle_for_boss(const PeerId& peer, const proto::Message& m, Clock::time_point now);
  bool handle_for_worker(const PeerId& peer, const proto::Message& m);
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
  // Watches router_ (its monitor: the one a socket can have): destroyed
  // before it.
  proto::HandshakeGuard guard_;
  std::uint64_t failed_handshakes_seen_ = 0;  // guard_'s count when last logged
  std::optional<Clock::time_point> handshakes_logged_;
  WakeFd wake_;  // stop and reload requests, from other threads
  std::atomic<bool> stop_{false};
  std::atomic<bool> reload_{false};
  std::string manager_id_;
  ManagerCore core_;
  Outbox out_;
  std::vector<Outgoing> sending_;
  ChunkAssembler chunks_;
  ErrorBudget errors_;
  Clock::time_point next_descriptor_count_{};
  std::uint64_t descriptors_ = 0;
  // The HTTP server reads what the loop publishes here, in its own threads.
  SnapshotBoard board_;
  std::unique_ptr<HttpServer> http_;
};

// ---- loop ------------------------------------------------------------------------

void Manager::Impl::watch_handshakes(Clock::time_point now) {
  const std::uint64_t failed = guard_.counts().handshakes_refused;
  if (failed == failed_handshakes_seen_) return;
  if (handshakes_logged_ && now - *handshakes_logged_ < std::chrono::seconds(10)) return;
  log::warn(
      "{} connection(s) failed to authenticate{}: a worker or boss with another authkey or a key "
      "not admitted, or something that does not speak the uni protocol",
      failed - failed_handshakes_seen_, handshakes_logged_ ? " in the last 10 s" : "");
  failed_handshakes_seen_ = failed;
  handshakes_logged_ = now;
}

void Manager::Impl::run() {
  log::info("manager {} listening on {}", manager_id_, endpoint_);
  if (clients_->keyed())
    log::info("admitting the {} key(s) of {} (SIGHUP reads it again)", clients_->size(),
              clients_->path());
  zmq::pollitem_t items[] = {
      {router_.handle(), 0, ZMQ_POLLIN, 0},
      {nullptr, wake_.fd(), ZMQ_POLLIN, 0},
  };
  Clock::time_point next_timer = Clock::now();
  while (!stop_) {
    auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next_timer - Clock::now());
    proto::poll(items, 2, std::max(wait, std::chrono::milliseconds(0)));
    if (items[1].revents & ZMQ_POLLIN) wake_.drain();
    if (reload_.exchange(false)) reload_clients();
    if (items[0].revents & ZMQ_POLLIN) read_messages();
    core_.dispatch();
    core_.flush(out_);
    deliver();
    Clock::time_point now = Clock::now();
    if (now >= next_timer) {
      note_transport(now);
      if (!chunks_.empty() && chunks_.expire(now, kChunkIdle) > 0)
        log::warn("dropped a large message whose pieces stopped coming for {} s",
                  kChunkIdle.count());
      if (!errors_.empty()) errors_.prune(now);
      core_.on_timer(now, out_);
      core_.dispatch();
      core_.flush(out_);
      deliver();
      next_timer = now + std::chrono::milliseconds(100);
      watch_handshakes(now);
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
  // Bounded, so that the timers are served under a flood. libzmq's ROUTER
  // takes one message from each peer with something waiting in turn, and a
  // message costs at most its size to handle: each peer gets a slice.
  std::size_t bytes = 0;
  for (int i = 0; i < kReadsPerTurn && bytes < kBytesPerTurn; ++i) {
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
    bytes += body.size();
    receive(peer, body);
    deliver();
  }
}

void Manager::Impl::receive(const PeerId& peer, const zmq::message_t& frame) {
  std::string_view bytes(static_cast<const char*>(frame.data()), frame.size());
  proto::Chunk chunk;
  switch (proto::parse_chunk(bytes, chunk)) {
    case proto::ChunkParse::kNotAChunk:
      chunks_.interrupted(peer);
      if (!handle(peer, bytes.data(), bytes.size(), frame)) protocol_error(peer, frame);
      return;
    case proto::ChunkParse::kMalformed:
      chunks_.interrupted(peer);
      core_.count(Refusal::kMalformed);
      out_.send(peer, proto::encode_error("malformed",
                                          "malformed message: a CHUNK must be [25, 1, more: bool, "
                                          "piece: bin] and nothing else"));
      protocol_error(peer, frame);
      return;
    case proto::ChunkParse::kChunk: break;
  }
  ChunkAssembler::Step step = chunks_.add(peer, chunk, Clock::now());
  switch (step.outcome) {
    case ChunkAssembler::Outcome::kPending: return;
    case ChunkAssembler::Outcome::kComplete:
      if (!handle(peer, step.message.data(), step.message.size(), frame))
        protocol_error(peer, frame);
      return;
    case ChunkAssembler::Outcome::kTooLarge:
      refuse_too_large(peer, step.size, step.head);
      protocol_error(peer, frame);
      return;
    case ChunkAssembler::Outcome::kBusy:
      // Not the peer's doing: no error charged.
      core_.count(Refusal::kBusy);
      log::limited(spdlog::level::warn, "assembling-busy",
                   "refused a message of {} bytes: large messages being received held {} "
                   "bytes, the limit",
                   step.size, assembling_budget(config_));
      out_.send(peer, proto::encode_error(
                          "busy", "message of " + std::to_string(step.size) +
                                      " bytes refused: the manager is receiving other large "
                                      "messages; send it again later"));
      if (std::optional<ModuleHash> hash = proto::put_module_hash(step.head))
        core_.refuse_module(peer, *hash,
                            "the manager was receiving too many large messages at once; "
                            "submit again later",
                            out_);
      return;
  }
}

bool Manager::Impl::refuse_too_large(const PeerId& peer, std::uint64_t size,
                                     std::string_view head) {
  core_.count(Refusal::kTooLarge);
  log::limited(spdlog::level::warn, "too-large", "refused a message of {} bytes (limit {})", size,
               config_.max_message);
  std::string why = "message of " + std::to_string(size) +
                    " bytes exceeds the manager's limit of " + std::to_string(config_.max_message) +
                    " bytes (--max-message)";
  out_.send(peer, proto::encode_error("too-large", why));
  // An upload: the boss's tasks that wait for the module fail now.
  if (std::optional<ModuleHash> hash = proto::put_module_hash(head))
    core_.refuse_module(peer, *hash, why, out_);
  return false;
}

void Manager::Impl::protocol_error(const PeerId& peer, const zmq::message_t& frame) {
  if (!errors_.charge(peer, Clock::now())) return;
  // Out of budget: end the connection the frame came on. The descriptor
  // is libzmq's; checking its peer's address guards against a number
  // reused by a newer connection since.
  int fd = zmq_msg_get(const_cast<zmq_msg_t*>(frame.handle()), ZMQ_SRCFD);
  const char* address = zmq_msg_gets(const_cast<zmq_msg_t*>(frame.handle()), "Peer-Address");
  if (fd < 0 || !address || peer_address(fd) != address) return;
  out_.send(peer, proto::encode_error("malformed",
                                      "too many protocol errors: the manager closes this "
                                      "connection"));
  deliver();
  ::shutdown(fd, SHUT_RDWR);
  core_.count(Refusal::kClosed);
  log::limited(spdlog::level::warn, "closed-for-errors",
               "closed the connection of a peer at {} after more than {} protocol errors", address,
               ErrorBudget::kBurst);
}

void Manager::Impl::note_transport(Clock::time_point now) {
  TransportCounts t;
  proto::HandshakeGuard::Counts guard = guard_.counts();
  t.connections = guard.connections;
  t.handshakes_shed = guard.shed;
  t.handshakes_failed = guard.failed;
  t.assembling_bytes = chunks_.bytes();
  // Counting descriptors reads /proc: once a second is enough.
  if (now >= next_descriptor_count_) {
    next_descriptor_count_ = now + std::chrono::seconds(1);
    descriptors_ = count_open_descriptors();
  }
  t.descriptors = descriptors_;
  t.descriptor_limit = descriptor_limit();
  core_.note_transport(t);
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

bool Manager::Impl::handle(const PeerId& peer, const char* data, std::size_t size,
                           const zmq::message_t& frame) {
  if (size > config_.max_message)
    return refuse_too_large(peer, size, std::string_view(data, std::min<std::size_t>(size, 64)));
  try {
    // What decoding may cost is bounded by the size; fields are read from
    // the frame itself, never copied twice.
    proto::ParseLimits limits;
    limits.max_values = std::min(size / 2 + 64, kMaxValues);
    limits.reference_bytes = true;
    proto::Message m = proto::Message::parse(data, size, limits);
    if (m.version() != proto::kVersion) {
      core_.count(Refusal::kMalformed);
      out_.send(peer,
                proto::encode_error(
                    "version", "protocol version mismatch: this manager speaks version " +
                                   std::to_string(proto::kVersion) + ", the peer sent version " +
                                   std::to_string(m.version()) + " (upgrade the older side)"));
      return false;
    }
    Clock::time_point now = Clock::now();
    using proto::Type;
    if (m.type() == Type::kHello) {
      // The key its connection was admitted with (ZAP's user id); a key
      // removed from the clients file since is refused by the core.
      const char* user = zmq_msg_gets(const_cast<zmq_msg_t*>(frame.handle()), "User-Id");
      core_.on_hello(peer, m.hello(), user ? clients_->find(user) : nullptr, now, out_);
      return true;
    }
    ManagerCore::Role role = core_.heard_from(peer, now);
    if (role == ManagerCore::Role::kUnknown) {
      // Typically a peer from before a manager restart: it says HELLO again.
      out_.send(peer, proto::encode_error("hello-required", "unknown peer: send HELLO first"));
      return true;
    }
    switch (m.type()) {
      case Type::kHeartbeat:
        if (role == ManagerCore::Role::kWorker)
          core_.on_heartbeat(peer, m.busy(), m.started_services(), out_, m.worker_note());
        return true;
      case Type::kBye: core_.on_bye(peer, m.text(), out_); return true;
      case Type::kCancel: core_.on_cancel(peer, m.task_ids(), out_); return true;
      case Type::kStatus: core_.on_status(peer, now, out_); return true;
      default: break;
    }
    if (role == ManagerCore::Role::kBoss) return handle_for_boss(peer, m, now);
    return handle_for_worker(peer, m);
  } catch (const proto::DecodeError& e) {
    core_.count(Refusal::kMalformed);
    log::limited(spdlog::level::warn, "malformed-message", "malformed message ({} bytes): {}", size,
                 e.what());
    out_.send(peer,
              proto::encode_error("malformed", std::string("malformed message: ") + e.what()));
    return false;
  } catch (const std::exception& e) {
    // Whatever one message does (exhausts memory, say), the manager serves on.
    log::limited(spdlog::level::err, "message-failed", "failed to handle a message of {} bytes: {}",
                 size, e.what());
    out_.send(peer, proto::encode_error("malformed",
                                        std::string("cannot handle this message: ") + e.what()));
    return false;
  }
}

bool Manager::Impl::handle_for_boss(const PeerId& peer, const proto::Message& m,
                                    Clock::time_point now) {
  using proto::Type;
  switch (m.type()) {
    case Type::kSubmit: {
      Submission submission = read_submission(m);
      bool whole = submission.error.empty();
      if (!whole) core_.count(Refusal::kMalformed);
      core_.on_submit(peer, std::move(submission), now, out_);
      return whole;
    }
    case Type::kPutModule: put_module(peer, m, now); return true;
    case Type::kAck: core_.on_ack(peer, m.task_ids(), out_); return true;
    case Type::kBecome: core_.on_become(peer, proto::read_become(m), now, out_); return true;
    case Type::kFetchResult:
      core_.on_fetch_result(peer, proto::read_fetch_result(m), now, out_);
      return true;
    default:
      core_.count(Refusal::kMalformed);
      out_.send(peer,
                proto::encode_error("malformed", std::string("unexpected ") +
                                                     proto::type_name(m.type()) + " from a boss"));
      return false;
  }
}

bool Manager::Impl::handle_for_worker(const PeerId& peer, const proto::Message& m) {
  using proto::Type;
  switch (m.type()) {
    case Type::kResult: core_.on_result(peer, m.results(), out_); return true;
    case Type::kFetchModule: core_.on_fetch_module(peer, m.module_hash(), out_); return true;
    case Type::kCredit: core_.on_credit(peer, m.credit()); return true;
    case Type::kBecomeReply:
      core_.on_become_reply(peer, proto::read_become_reply(m), out_);
      return true;
    default:
      core_.count(Refusal::kMalformed);
      out_.send(peer, proto::encode_error("malformed", std::string("unexpected ") +
                                                           proto::type_name(m.type()) +
                                                           " from a worker"));
      return false;
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
