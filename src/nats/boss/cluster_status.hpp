// `uni status` on NATS: there is no manager to ask, so the report is assembled
// from what the cluster holds — live workers (with their counts), connected
// bosses (with their services not yet running) and running services from the
// registry buckets (entries of the dead have expired), and the tasks queued
// from the task streams' per-subject counts.
#pragma once

#include <string>
#include <vector>

#include "nats/client/jetstream.hpp"
#include "nats/store/engine_config.hpp"
#include "proto/status.hpp"

namespace uni::nats {

// The report for the platforms given and those of the live workers. Totals
// are sums over the live workers (and bosses, for `submitted`) of what each
// did since it started: no process keeps cluster-lifetime counts. Throws
// NatsError.
proto::StatusReport read_cluster_status(JetStream& js, const EngineConfig& config,
                                        std::vector<std::string> platforms);

}  // namespace uni::nats
