// The stats module's interface, for bosses that link it: one struct that
// travels as a msgpack map, and the function that fills it.
#pragma once

#include <msgpack.hpp>

#include <cstdint>
#include <vector>

struct Summary {
  std::int64_t count = 0;
  std::int64_t sum = 0;
  std::int64_t min = 0;
  std::int64_t max = 0;
  MSGPACK_DEFINE_MAP(count, sum, min, max);
};

// Count, sum, smallest and largest of `values`; throws std::invalid_argument
// when there are none.
Summary summarize(std::vector<std::int64_t> values);
