// The `become` workload: handover time of the echo service with 10 busy
// clients (become_bench.cpp).
#pragma once

#include "cluster.hpp"
#include "workloads.hpp"

namespace bench {

// Emits one JSON line; throws if a become failed or a client was dropped.
void run_become(const Config& c, const Environment& env, LocalCluster& cluster);

}  // namespace bench
