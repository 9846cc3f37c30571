// ident: returns its argument. Everything a W1/W2 task costs is dispatch.
#include "bench_ident.hpp"

#include <uni/module.hpp>

std::int64_t ident(std::int64_t x) { return x; }

UNI_EXPORT(ident);
