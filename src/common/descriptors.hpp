// This process's file descriptors: the limit raised as far as it goes at
// start (the manager's port, its HTTP server and its stores share one
// budget, and Linux's default soft limit of 1024 is soon reached by a
// cluster's connections), and how many are open, for `uni status`.
#pragma once

#include <cstdint>

namespace uni {

// Raises RLIMIT_NOFILE's soft limit to its hard limit; returns the soft
// limit in force afterwards.
std::uint64_t raise_descriptor_limit();

// RLIMIT_NOFILE's soft limit now.
std::uint64_t descriptor_limit();

// Descriptors open in this process (entries of /proc/self/fd); 0 if that
// cannot be read.
std::uint64_t count_open_descriptors();

}  // namespace uni
