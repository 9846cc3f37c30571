// The factorial module: the first example of the Python original, as a uni module.
#include "factorial.hpp"

#include <stdexcept>
#include <string>

#include <uni/module.hpp>

std::uint64_t factorial(int n) {
  if (n < 0 || n > 20)
    throw std::domain_error("factorial(" + std::to_string(n) + "): n must be between 0 and 20");
  std::uint64_t result = 1;
  for (int i = 2; i <= n; ++i) result *= static_cast<std::uint64_t>(i);
  return result;
}

UNI_EXPORT(factorial);
