// The W1/W2/workers200 module: the cheapest possible task.
#pragma once

#include <cstdint>

std::int64_t ident(std::int64_t x);
