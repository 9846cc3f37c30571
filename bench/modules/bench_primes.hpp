// The W3 module: CPU-bound work of a known answer.
#pragma once

#include <cstdint>

// The number of primes p with lo <= p < hi, by trial division.
std::int64_t count_primes(std::int64_t lo, std::int64_t hi);
