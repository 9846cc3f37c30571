// A connection to a NATS cluster, set up the way uni needs it: every server of
// the address (natsOptions_SetServers), credentials (user/password, token,
// nkey seed), TLS, SendAsap (nats.c otherwise holds each publish ~1 ms in its
// flusher thread), reconnection to the other servers for ever, and a first
// connect that fails within a few seconds with a NatsError whose kind says why
// (kAuthFailed, kTls, kUnreachable). Thread-safe as nats.c is: one
// connection may be used from several threads.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "nats/client/handles.hpp"
#include "nats/client/message.hpp"

namespace uni::nats {

struct ConnectOptions {
  // "nats://[user:pass@|token@]h1:4222,nats://h2:4222,..."; tls:// turns TLS on.
  std::string address;
  // Credentials given apart from the URL; they win over the URL's.
  std::string user, password;
  std::string token;
  std::string nkey_seed;  // a user seed "SU..." (NKey); its public key is derived
  // TLS: the CA that signed the servers' certificates, and for mutual TLS the
  // client's certificate chain and key (PEM files). Any of them turns TLS on.
  std::string tls_ca_file, tls_cert_file, tls_key_file;
  std::string name = "uni";  // shown in the server's connection list
  // Try the servers in the order given (the first is preferred) instead of
  // shuffled; for tests and for clients that should stay near one node.
  bool ordered_servers = false;
  // The first connect gives up after this much in all, across every server,
  // so a wrong address or credential is reported in time (5 s).
  std::chrono::milliseconds connect_deadline{4000};
  // Between reconnect attempts to one server; nats.c cycles through all of
  // them, with a small random jitter so that clients do not come back in step.
  std::chrono::milliseconds reconnect_wait{100};
  // A server that stops answering (host down, no TCP reset) is noticed after
  // about ping_interval * (max_pings_out + 1).
  std::chrono::milliseconds ping_interval{2000};
  int max_pings_out = 2;
  bool send_asap = true;
};

class Subscription;
class JetStream;

class Connection {
 public:
  // Connects to one server of the address. Throws NatsError (kind
  // kAuthFailed, kTls or kUnreachable) with a message naming the servers, or
  // std::invalid_argument for an address or seed that cannot be read.
  static Connection connect(const ConnectOptions& options);

  Connection(Connection&&) noexcept;
  Connection& operator=(Connection&&) noexcept;
  ~Connection();  // closes the connection (pending publishes are flushed first)

  natsConnection* get() const;
  const std::vector<std::string>& servers() const;

  // Core NATS: fire-and-forget publish, request/reply, synchronous subscription.
  void publish(const std::string& subject, std::string_view data);
  Message request(const std::string& subject, std::string_view data,
                  std::chrono::milliseconds timeout);
  Subscription subscribe(const std::string& subject);
  void flush(std::chrono::milliseconds timeout = std::chrono::seconds(5));

  // The NATS identity the credentials give: the user name, else the nkey's
  // public key; "" with a token or no credentials. uni names it in the
  // subjects of a boss's tasks and results and in the connection's inbox
  // prefix (_INBOX_<identity>), so that server permissions can hold each
  // user to its own (docs/security.md, "NATS credential").
  const std::string& identity() const;
  // A fresh reply subject under the connection's inbox prefix.
  std::string new_inbox() const;

  bool connected() const;
  std::string connected_url() const;  // "" while disconnected
  std::int64_t max_payload() const;   // the server's limit on one message's payload
  // How often the connection was re-established after a loss (fail-over).
  std::uint64_t reconnects() const;
  std::uint64_t disconnects() const;

  struct State;  // internal; named here so that nats.c's callbacks can reach it

 private:
  explicit Connection(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

// A synchronous subscription (core NATS, or a JetStream pull/push
// subscription made by JetStream). Unsubscribes when it goes.
class Subscription {
 public:
  explicit Subscription(SubscriptionHandle sub) : sub_(std::move(sub)) {}

  // The next message, or nullopt if none came within `timeout`.
  std::optional<Message> next(std::chrono::milliseconds timeout);
  // Pull subscriptions: up to `batch` messages, waiting at most `timeout` for
  // the first; an empty vector if none came.
  // nats.c waits for the whole batch (or the timeout) once it had to wait
  // for the first message, so a batch above 1 can hold messages that came.
  std::vector<Message> fetch(int batch, std::chrono::milliseconds timeout);
  // Up to `batch` messages the server has now, without waiting for more
  // (`timeout` bounds the server's answer); empty if it has none.
  std::vector<Message> fetch_available(int batch, std::chrono::milliseconds timeout);

  natsSubscription* get() const { return sub_.get(); }

 private:
  SubscriptionHandle sub_;
};

}  // namespace uni::nats
