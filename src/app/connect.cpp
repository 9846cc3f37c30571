// The public calls that take an address — uni::connect, uni::submit_detached,
// uni::detached_result — as the composition root makes them: the address
// becomes a link (links.hpp), with the client's key file or the authkey if it
// names a manager, and the client takes it from there (client/client.hpp,
// client/detached.hpp).
#include <cstdlib>

#include "app/boss_connect.hpp"
#include "app/links.hpp"
#include "client/client.hpp"
#include "client/detached.hpp"
#include "common/identity.hpp"
#include "common/key_files.hpp"
#include "uni/detached.hpp"
#include "uni/uni.hpp"

namespace uni {

namespace app {

namespace {

// The CURVE keys of a boss of the manager: its key file (the options', else
// $UNI_KEY unless an authkey is given), else the authkey's. A key file also
// gives the key's owner tag, the upper half of the boss's session
// (common/identity.hpp).
CurveKeys manager_keys(const ConnectOptions& options, std::optional<std::uint32_t>& owner) {
  const bool authkey_given = !options.authkey.empty() || !options.authkey_file.empty();
  if (!options.key_file.empty() && authkey_given)
    throw Error("give a key file or an authkey, not both");
  const std::string key_file = authkey_given ? std::string() : find_key_file(options.key_file);
  if (!key_file.empty()) {
    ClientKey key;
    try {
      key = read_client_key(key_file);
    } catch (const std::exception& e) {
      throw Error(e.what());  // a local problem, not the cluster's
    }
    owner = owner_tag(key.public_key);
    return curve_keys_of(key);
  }
  std::optional<std::string> authkey;
  try {
    authkey = find_authkey(options.authkey, options.authkey_file);
  } catch (const std::exception& e) {
    throw Error(e.what());  // an unreadable or empty key file: a local problem, not the cluster's
  }
  if (!authkey)
    throw ConnectError(ConnectError::Reason::kAuthFailed,
                       "no authkey: pass --authkey or --authkey-file (or a key file: --key, "
                       "UNI_KEY), set UNI_AUTHKEY, or start a manager without one so that it "
                       "creates " +
                           default_authkey_path());
  return derive_curve_keys(*authkey);
}

}  // namespace

detail::UnopenedLink boss_link(const std::string& requested, const ConnectOptions& options) {
  std::string address = requested;
  if (address.empty()) {
    const char* env = std::getenv("UNI_CONNECT");
    address = env && *env ? env : "tcp://127.0.0.1:7070";
  }
  // Keys are looked for only if the address names a uni manager.
  std::optional<CurveKeys> keys;
  std::optional<std::uint32_t> owner;
  if (app::broker_identity(address).has_manager) keys = manager_keys(options, owner);
  detail::UnopenedLink out;
  out.session = detail::Client::new_session(owner);
  out.link = app::make_boss_link(address, out.session, [&] { return *keys; });
  out.endpoint = app::shown_address(address);
  return out;
}

}  // namespace app

using app::boss_link;

Cluster connect(const std::string& address, const ConnectOptions& options) {
  auto client = detail::Client::start(boss_link(address, options), options);
  std::string endpoint = client->endpoint();
  return Cluster(std::move(client), std::move(endpoint));
}

std::string submit_detached(const std::string& address, const std::string& module_path,
                            const std::string& function, const std::string& msgpack_args,
                            const TaskOptions& options, const ConnectOptions& connection) {
  detail::check_detached_options(options);
  return detail::submit_detached(boss_link(address, connection), module_path, function,
                                 msgpack_args, options, connection);
}

std::optional<DetachedResult> detached_result(const std::string& address, const std::string& id,
                                              std::chrono::milliseconds wait,
                                              const ConnectOptions& connection) {
  const proto::TaskId task = detail::parse_task_id(id);
  return detail::detached_result(boss_link(address, connection), task, wait, connection);
}

}  // namespace uni
