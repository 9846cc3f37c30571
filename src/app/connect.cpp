// The public calls that take an address — uni::connect, uni::submit_detached,
// uni::detached_result — as the composition root makes them: the address
// becomes a link (links.hpp), found the authkey if it names a manager, and
// the client takes it from there (client/client.hpp, client/detached.hpp).
#include <cstdlib>

#include "app/boss_connect.hpp"
#include "app/links.hpp"
#include "client/client.hpp"
#include "client/detached.hpp"
#include "uni/detached.hpp"
#include "uni/uni.hpp"

namespace uni {

namespace app {

detail::UnopenedLink boss_link(const std::string& requested, const ConnectOptions& options) {
  std::string address = requested;
  if (address.empty()) {
    const char* env = std::getenv("UNI_CONNECT");
    address = env && *env ? env : "tcp://127.0.0.1:7070";
  }
  // The authkey is looked for only if the address names a uni manager.
  auto curve_keys = [&]() -> CurveKeys {
    std::optional<std::string> authkey;
    try {
      authkey = find_authkey(options.authkey, options.authkey_file);
    } catch (const std::exception& e) {
      throw Error(e.what());  // an unreadable or empty key file: a local problem, not the cluster's
    }
    if (!authkey)
      throw ConnectError(ConnectError::Reason::kAuthFailed,
                         "no authkey: pass --authkey or --authkey-file, set UNI_AUTHKEY, or start "
                         "a manager without one so that it creates " +
                             default_authkey_path());
    return derive_curve_keys(*authkey);
  };
  detail::UnopenedLink out;
  out.session = detail::Client::new_session();
  out.link = app::make_boss_link(address, out.session, curve_keys);
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
