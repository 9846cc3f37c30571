// Connection: natsOptions from ConnectOptions, the first connect under a
// deadline, fail-over counters, and the synchronous subscription.
#include "nats/client/connection.hpp"

#include <cctype>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <stdexcept>

#include "common/log.hpp"
#include "nats/client/address.hpp"
#include "nats/client/error.hpp"
#include "nats/client/nkey.hpp"

namespace uni::nats {

// Reached by nats.c's callbacks from its own thread: it must outlive the last
// of them, the closed callback, which the destructor waits for.
struct Connection::State {
  ConnectionHandle connection;
  std::vector<std::string> servers;
  std::optional<NKey> nkey;  // signs the server's nonce on every (re)connect
  std::string identity;      // see Connection::identity()
  std::string inbox_prefix;  // "_INBOX" or "_INBOX_<identity>"
  std::atomic<std::uint64_t> reconnects{0};
  std::atomic<std::uint64_t> disconnects{0};
  std::atomic<bool> closing{false};
  std::mutex mutex;
  std::condition_variable closed_signal;
  bool closed = false;
};

namespace {

void on_disconnected(natsConnection*, void* closure) {
  auto* state = static_cast<Connection::State*>(closure);
  if (state->closing) return;
  ++state->disconnects;
  log::warn("NATS: connection lost, reconnecting to another server of the cluster");
}

void on_reconnected(natsConnection* nc, void* closure) {
  auto* state = static_cast<Connection::State*>(closure);
  ++state->reconnects;
  char url[256] = {0};
  natsConnection_GetConnectedUrl(nc, url, sizeof url);
  log::info("NATS: reconnected to {}", url);
}

void on_closed(natsConnection*, void* closure) {
  auto* state = static_cast<Connection::State*>(closure);
  std::lock_guard lock(state->mutex);
  state->closed = true;
  state->closed_signal.notify_all();
}

void on_async_error(natsConnection*, natsSubscription*, natsStatus err, void*) {
  // Slow consumers and permission violations arrive here, off any call.
  log::warn("NATS: {}", natsStatus_GetText(err));
}

natsStatus sign_nonce(char** custom_error, unsigned char** signature, int* length,
                      const char* nonce, void* closure) {
  const NKey& key = *static_cast<const NKey*>(closure);
  std::string raw = key.sign(nonce);
  // nats.c frees the signature with free().
  *signature = static_cast<unsigned char*>(std::malloc(raw.size()));
  if (*signature == nullptr) {
    *custom_error = strdup("out of memory signing the server's nonce");
    return NATS_NO_MEMORY;
  }
  std::memcpy(*signature, raw.data(), raw.size());
  *length = static_cast<int>(raw.size());
  return NATS_OK;
}

// An identity must be one subject token: it is named in subjects and in
// permissions. A user name that is not one is refused here, at connect,
// rather than silently left out of the subjects.
void check_identity(const std::string& identity) {
  for (char c : identity)
    if (c == '.' || c == '*' || c == '>' || std::isspace(static_cast<unsigned char>(c)) ||
        !std::isprint(static_cast<unsigned char>(c)))
      throw std::invalid_argument("the NATS user '" + identity +
                                  "' cannot be named in a subject (it holds '" + std::string(1, c) +
                                  "'): uni puts a boss's user in the subjects of its tasks and "
                                  "results; choose a user name of letters, digits, '-' and '_'");
}

std::string credential_kind(const ConnectOptions& options, const NatsAddress& address) {
  if (!options.nkey_seed.empty()) return "nkey";
  if (!options.token.empty() || address.token) return "token";
  if (!options.user.empty() || address.user) return "user/password";
  return "no credentials";
}

}  // namespace

Connection::Connection(std::unique_ptr<State> state) : state_(std::move(state)) {}
Connection::Connection(Connection&&) noexcept = default;
Connection& Connection::operator=(Connection&&) noexcept = default;
Connection::~Connection() {
  if (!state_ || !state_->connection) return;
  state_->closing = true;
  natsConnection_Close(state_->connection.get());
  // nats.c calls back from its own thread, the closed callback last; the
  // state it is given must live until then.
  std::unique_lock lock(state_->mutex);
  state_->closed_signal.wait_for(lock, std::chrono::seconds(10), [&] { return state_->closed; });
}

Connection Connection::connect(const ConnectOptions& options) {
  NatsAddress address = NatsAddress::parse(options.address);
  auto state = std::make_unique<State>();
  state->servers = address.servers;

  natsOptions* raw_options = nullptr;
  check(natsOptions_Create(&raw_options), "creating NATS options");
  OptionsHandle opts(raw_options);
  std::vector<const char*> urls;
  for (const std::string& server : address.servers) urls.push_back(server.c_str());
  check(natsOptions_SetServers(opts.get(), urls.data(), static_cast<int>(urls.size())),
        "setting the NATS servers " + address.servers_text());
  // By default nats.c shuffles the servers, which spreads a fleet of workers
  // over the cluster's nodes.
  check(natsOptions_SetNoRandomize(opts.get(), options.ordered_servers),
        "setting the server order");

  std::string user = !options.user.empty() ? options.user : address.user.value_or("");
  std::string password =
      !options.password.empty() ? options.password : address.password.value_or("");
  std::string token = !options.token.empty() ? options.token : address.token.value_or("");
  if (!user.empty() || !password.empty())
    check(natsOptions_SetUserInfo(opts.get(), user.c_str(), password.c_str()),
          "setting the NATS user");
  if (!token.empty())
    check(natsOptions_SetToken(opts.get(), token.c_str()), "setting the NATS token");
  if (!options.nkey_seed.empty()) {
    state->nkey = NKey::from_seed(options.nkey_seed);
    std::string public_key = state->nkey->public_key();
    check(natsOptions_SetNKey(opts.get(), public_key.c_str(), sign_nonce, &*state->nkey),
          "setting the NATS nkey");
  }
  state->identity = !user.empty() ? user : state->nkey ? state->nkey->public_key() : "";
  check_identity(state->identity);
  // Replies (JetStream answers, direct reads, consumer deliveries) come to
  // inboxes under a prefix of this identity's own, so that a permission can
  // let a user subscribe to its replies and no one else's.
  state->inbox_prefix = state->identity.empty() ? "_INBOX" : "_INBOX_" + state->identity;
  if (!state->identity.empty())
    check(natsOptions_SetCustomInboxPrefix(opts.get(), state->inbox_prefix.c_str()),
          "setting the inbox prefix");

  bool tls = address.tls || !options.tls_ca_file.empty() || !options.tls_cert_file.empty();
  if (tls) {
    check(natsOptions_SetSecure(opts.get(), true), "turning TLS on");
    if (!options.tls_ca_file.empty())
      check(natsOptions_LoadCATrustedCertificates(opts.get(), options.tls_ca_file.c_str()),
            "loading the TLS CA file " + options.tls_ca_file);
    if (!options.tls_cert_file.empty() || !options.tls_key_file.empty())
      check(natsOptions_LoadCertificatesChain(opts.get(), options.tls_cert_file.c_str(),
                                              options.tls_key_file.c_str()),
            "loading the TLS client certificate " + options.tls_cert_file + " and key " +
                options.tls_key_file);
  }

  check(natsOptions_SetName(opts.get(), options.name.c_str()), "setting the connection name");
  check(natsOptions_SetSendAsap(opts.get(), options.send_asap), "setting SendAsap");
  // Each server gets a share of the deadline, at least 500 ms: refused
  // connections fail at once, a silent host costs its share.
  std::int64_t per_server = std::max<std::int64_t>(
      500, options.connect_deadline.count() / static_cast<std::int64_t>(urls.size()));
  check(natsOptions_SetTimeout(opts.get(), per_server), "setting the connect timeout");
  check(natsOptions_SetAllowReconnect(opts.get(), true), "allowing reconnection");
  check(natsOptions_SetMaxReconnect(opts.get(), -1), "setting unlimited reconnects");
  check(natsOptions_SetReconnectWait(opts.get(), options.reconnect_wait.count()),
        "setting the reconnect wait");
  check(natsOptions_SetReconnectJitter(opts.get(), 50, 500), "setting the reconnect jitter");
  check(natsOptions_SetPingInterval(opts.get(), options.ping_interval.count()),
        "setting the ping interval");
  check(natsOptions_SetMaxPingsOut(opts.get(), options.max_pings_out), "setting the max pings out");
  // A request in flight when the connection drops fails at once instead of
  // waiting out its timeout: a JetStream publish is then retried elsewhere.
  check(natsOptions_SetFailRequestsOnDisconnect(opts.get(), true),
        "setting fail-requests-on-disconnect");
  check(natsOptions_SetDisconnectedCB(opts.get(), on_disconnected, state.get()),
        "setting callbacks");
  check(natsOptions_SetReconnectedCB(opts.get(), on_reconnected, state.get()), "setting callbacks");
  check(natsOptions_SetClosedCB(opts.get(), on_closed, state.get()), "setting callbacks");
  check(natsOptions_SetErrorHandler(opts.get(), on_async_error, nullptr), "setting callbacks");

  natsConnection* nc = nullptr;
  natsStatus status = natsConnection_Connect(&nc, opts.get());
  // nats.c 3.4.1 with nats-server 2.9.10 (Debian 12) refuse about one nkey
  // connect in 250 with a signature that is right (nats.c's own nats_Sign
  // fails alike): a second try, with the server's next nonce, gets in. A
  // wrong key is refused both times.
  if ((status == NATS_CONNECTION_AUTH_FAILED || status == NATS_NOT_PERMITTED) && state->nkey) {
    log::debug("NATS: nkey connect refused, trying once more with a fresh nonce");
    status = natsConnection_Connect(&nc, opts.get());
  }
  if (status != NATS_OK) {
    natsStatus last = NATS_OK;
    const char* text = nats_GetLastError(&last);
    std::string detail = text != nullptr ? text : "";
    FailureKind kind = classify(status, 0, detail);
    std::string hint;
    // A server that requires a client certificate drops a client without one
    // right after the handshake; nats.c then reads nothing where it expected
    // PONG and says only "Protocol Error".
    if (tls && status == NATS_PROTOCOL_ERROR && kind == FailureKind::kOther) {
      kind = FailureKind::kTls;
      if (options.tls_cert_file.empty())
        hint = "; the server may require a client certificate (mutual TLS)";
    }
    std::string what;
    switch (kind) {
      case FailureKind::kAuthFailed:
        what = "NATS authentication failed (" + credential_kind(options, address) + " refused by " +
               address.servers_text() + "; wrong credentials?)";
        break;
      case FailureKind::kTls:
        what = "TLS with NATS at " + address.servers_text() + " failed";
        break;
      default:
        kind = FailureKind::kUnreachable;
        what = "cannot reach a NATS server at " + address.servers_text();
    }
    what += ": ";
    what += natsStatus_GetText(status);
    if (!detail.empty() && detail != natsStatus_GetText(status)) what += " (" + detail + ")";
    throw NatsError(kind, status, 0, what + hint);
  }
  state->connection.reset(nc);
  return Connection(std::move(state));
}

natsConnection* Connection::get() const { return state_->connection.get(); }
const std::vector<std::string>& Connection::servers() const { return state_->servers; }

void Connection::publish(const std::string& subject, std::string_view data) {
  check(natsConnection_Publish(get(), subject.c_str(), data.data(), static_cast<int>(data.size())),
        "publishing on " + subject);
}

Message Connection::request(const std::string& subject, std::string_view data,
                            std::chrono::milliseconds timeout) {
  natsMsg* reply = nullptr;
  check(natsConnection_Request(&reply, get(), subject.c_str(), data.data(),
                               static_cast<int>(data.size()), timeout.count()),
        "requesting on " + subject);
  return Message(MsgHandle(reply));
}

Subscription Connection::subscribe(const std::string& subject) {
  natsSubscription* sub = nullptr;
  check(natsConnection_SubscribeSync(&sub, get(), subject.c_str()), "subscribing to " + subject);
  return Subscription(SubscriptionHandle(sub));
}

void Connection::flush(std::chrono::milliseconds timeout) {
  check(natsConnection_FlushTimeout(get(), timeout.count()), "flushing the NATS connection");
}

const std::string& Connection::identity() const { return state_->identity; }

std::string Connection::new_inbox() const {
  natsInbox* raw = nullptr;
  check(natsInbox_Create(&raw), "creating an inbox");
  // natsInbox_Create ignores the custom prefix: keep its unique tail.
  std::string unique(raw);
  natsInbox_Destroy(raw);
  std::size_t dot = unique.find('.');
  return state_->inbox_prefix + unique.substr(dot == std::string::npos ? 0 : dot);
}

bool Connection::connected() const {
  return natsConnection_Status(get()) == NATS_CONN_STATUS_CONNECTED;
}

std::string Connection::connected_url() const {
  char url[512] = {0};
  if (natsConnection_GetConnectedUrl(get(), url, sizeof url) != NATS_OK) return "";
  return url;
}

std::int64_t Connection::max_payload() const { return natsConnection_GetMaxPayload(get()); }
std::uint64_t Connection::reconnects() const { return state_->reconnects.load(); }
std::uint64_t Connection::disconnects() const { return state_->disconnects.load(); }

std::optional<Message> Subscription::next(std::chrono::milliseconds timeout) {
  natsMsg* msg = nullptr;
  natsStatus status =
      natsSubscription_NextMsg(&msg, sub_.get(), std::max<std::int64_t>(1, timeout.count()));
  if (status == NATS_TIMEOUT) return std::nullopt;
  check(status, "waiting for a message");
  return Message(MsgHandle(msg));
}

std::vector<Message> Subscription::fetch(int batch, std::chrono::milliseconds timeout) {
  MsgList list;
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus status = natsSubscription_Fetch(list.get(), sub_.get(), batch,
                                             std::max<std::int64_t>(1, timeout.count()), &code);
  std::vector<Message> out;
  if (status == NATS_TIMEOUT) return out;
  check(status, "fetching messages", code);
  out.reserve(static_cast<std::size_t>(list.size()));
  for (int i = 0; i < list.size(); ++i) out.emplace_back(list.take(i));
  return out;
}

std::vector<Message> Subscription::fetch_available(int batch, std::chrono::milliseconds timeout) {
  jsFetchRequest request;
  jsFetchRequest_Init(&request);
  request.Batch = batch;
  request.NoWait = true;
  request.Expires = std::max<std::int64_t>(1, timeout.count()) * 1'000'000;
  MsgList list;
  natsStatus status = natsSubscription_FetchRequest(list.get(), sub_.get(), &request);
  std::vector<Message> out;
  if (status == NATS_TIMEOUT || status == NATS_NOT_FOUND) return out;
  check(status, "fetching messages");
  out.reserve(static_cast<std::size_t>(list.size()));
  for (int i = 0; i < list.size(); ++i) out.emplace_back(list.take(i));
  return out;
}

}  // namespace uni::nats
