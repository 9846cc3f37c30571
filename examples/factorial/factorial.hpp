// The factorial module's interface, for bosses that link it.
#pragma once

#include <cstdint>

// n! for 0 <= n <= 20 (21! does not fit 64 bits); throws std::domain_error otherwise.
std::uint64_t factorial(int n);
