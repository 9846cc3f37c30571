// What a cache-poisoning task puts in the place of the factorial module: the
// same export, another answer. A worker that loads it for another boss's
// `factorial 5` returns 424242 (the proof the sandbox tests must refute).
#include <cstdint>

#include <uni/module.hpp>

std::uint64_t factorial(int) { return 424242; }

UNI_EXPORT(factorial);
