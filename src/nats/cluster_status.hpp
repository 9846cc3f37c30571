// `uni status` on NATS: there is no manager to ask, so the report is assembled
// from what the cluster holds — live workers and running services from the
// registry buckets (entries of the dead have expired), queue lengths from the
// task streams' consumers.
#pragma once

#include <string>
#include <vector>

#include "nats/engine_config.hpp"
#include "nats/jetstream.hpp"
#include "proto/status.hpp"

namespace uni::nats {

// The report for the platforms given and those of the live workers. On NATS
// `queue` and `assigned` count messages (batches of up to
// EngineConfig::batch_tasks tasks): a stream does not know how many tasks its
// messages hold. Throws NatsError.
proto::StatusReport read_cluster_status(JetStream& js, const EngineConfig& config,
                                        std::vector<std::string> platforms);

}  // namespace uni::nats
