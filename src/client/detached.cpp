// uni::submit_detached and uni::detached_result (include/uni/detached.hpp):
// on NATS, straight onto the cluster's streams (nats/detached_tasks.hpp).
#include "uni/detached.hpp"

#include "broker/broker.hpp"
#include "common/module_file.hpp"
#include "nats/detached_tasks.hpp"
#include "nats/error.hpp"

namespace uni {

namespace {

void require_nats(const std::string& address) {
  if (broker::broker_kind(address) != broker::BrokerKind::kNats)
    throw Error(
        "tasks that outlive their boss (uni submit / uni result) need a NATS JetStream cluster "
        "(--connect nats://...): the built-in manager keeps no result for a boss that has left");
}

// The errors of the NATS layer as the API's: a connection that failed is a
// ConnectError, anything else an Error.
template <class F>
auto translated(F&& body) -> decltype(body()) {
  try {
    return body();
  } catch (const nats::NatsError& e) {
    switch (e.kind()) {
      case nats::FailureKind::kAuthFailed:
      case nats::FailureKind::kTls: throw ConnectError(ConnectError::Reason::kAuthFailed, e.what());
      case nats::FailureKind::kUnreachable:
        throw ConnectError(ConnectError::Reason::kUnreachable, e.what());
      default: throw Error(e.what());
    }
  } catch (const std::invalid_argument& e) {
    throw Error(e.what());  // an address or a setting that cannot be read
  }
}

}  // namespace

std::string submit_detached(const std::string& address, const std::string& module_path,
                            const std::string& function, const std::string& msgpack_args,
                            const TaskOptions& options) {
  require_nats(address);
  ModuleFile module;
  try {
    module = ModuleFile::load(module_path);
  } catch (const ModuleFileError& e) {
    throw ModuleError(e.what());
  }
  if (options.max_attempts < 1 || options.max_attempts > 255)
    throw Error("max_attempts must be between 1 and 255");
  nats::DetachedSubmission s;
  s.module = module.hash;
  s.platform = module.platform;
  s.module_bytes = std::move(module.bytes);
  s.function = function;
  s.args = msgpack_args;
  s.timeout_ms = static_cast<std::uint32_t>(options.timeout.count());
  s.wait_ms = static_cast<std::uint32_t>(options.wait.count());
  s.max_attempts = static_cast<std::uint8_t>(options.max_attempts);
  return translated([&] {
    return nats::submit_detached(nats::EngineConfig::from_environment(address), s).str();
  });
}

std::optional<DetachedResult> detached_result(const std::string& address, const std::string& id,
                                              std::chrono::milliseconds wait) {
  require_nats(address);
  std::optional<proto::TaskId> task = proto::TaskId::parse(id);
  if (!task) throw Error("'" + id + "' is not a task id (as uni submit prints it)");
  std::optional<proto::Result> r = translated([&] {
    return nats::detached_result(nats::EngineConfig::from_environment(address), *task, wait);
  });
  if (!r) return std::nullopt;
  DetachedResult out;
  out.ok = r->status == proto::Status::kOk;
  out.status = proto::status_name(r->status);
  out.value = std::move(r->payload);
  out.worker = std::move(r->worker);
  out.host = std::move(r->host);
  out.attempt = r->attempt;
  return out;
}

}  // namespace uni
