// Cluster::become (include/uni/uni.hpp): a running service takes on new code.
#include <cstdio>

#include "client/client.hpp"

namespace uni::detail {

BecomeResult become(Client& client, const std::string& service_id, const FunctionRef& fn,
                    std::chrono::milliseconds timeout) {
  std::optional<proto::TaskId> id = proto::TaskId::parse(service_id);
  if (!id)
    throw Error("'" + service_id +
                "' is not a service id (uni spawn prints one, e.g. 1f2e3d4c5b6a7988-1)");
  if (timeout <= std::chrono::milliseconds(0) || timeout > std::chrono::hours(24))
    throw Error("the become timeout must be above 0 and at most a day");
  proto::BecomeRequest request;
  request.service = *id;
  request.function = fn.name;
  request.timeout_ms = static_cast<std::uint32_t>(timeout.count());
  // The worker answers within twice the limit (hand-over, then take-over);
  // the margin covers the module's upload and fetch.
  proto::BecomeReply reply =
      client.become(std::move(request), fn.module, 2 * timeout + std::chrono::seconds(30));
  if (!reply.ok)
    throw Error("service " + service_id + " did not become " + fn.name + ": " + reply.text);
  return BecomeResult{std::chrono::nanoseconds(reply.handover_ns), reply.becomes};
}

}  // namespace uni::detail
