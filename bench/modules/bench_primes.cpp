// count_primes by trial division (deliberately naive: the point is CPU time
// that scales with the range, the same in a worker and in the bench process).
#include "bench_primes.hpp"

#include <uni/module.hpp>

namespace {
bool is_prime(std::int64_t n) {
  if (n < 2) return false;
  if (n < 4) return true;
  if (n % 2 == 0) return false;
  for (std::int64_t d = 3; d * d <= n; d += 2)
    if (n % d == 0) return false;
  return true;
}
}  // namespace

std::int64_t count_primes(std::int64_t lo, std::int64_t hi) {
  std::int64_t count = 0;
  for (std::int64_t n = lo < 0 ? 0 : lo; n < hi; ++n) count += is_prime(n);
  return count;
}

UNI_EXPORT(count_primes);
