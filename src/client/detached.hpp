// The half of uni/detached.hpp that takes a link rather than an address
// (app/connect.cpp makes the link): tasks that outlive their boss, handed to
// a broker that keeps them itself (BossLink::keeps_detached_tasks), or
// submitted through a boss session as detached + keep-result tasks and read
// back with FETCH_RESULT (proto/kept_result.hpp).
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "client/client.hpp"
#include "uni/detached.hpp"

namespace uni::detail {

// Throws uni::Error if `options` cannot go with a detached task (checked
// before the broker is contacted).
void check_detached_options(const TaskOptions& options);
// A task id as `uni submit` prints it; throws uni::Error if `id` is none.
proto::TaskId parse_task_id(const std::string& id);

// uni::submit_detached and uni::detached_result over `link`.
std::string submit_detached(UnopenedLink link, const std::string& module_path,
                            const std::string& function, const std::string& msgpack_args,
                            const TaskOptions& options, const ConnectOptions& connection);
std::optional<DetachedResult> detached_result(UnopenedLink link, const proto::TaskId& id,
                                              std::chrono::milliseconds wait,
                                              const ConnectOptions& connection);

}  // namespace uni::detail
