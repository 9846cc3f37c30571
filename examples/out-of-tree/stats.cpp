// The stats module: built outside the uni repository, against the installed
// package only (uni_add_module from find_package(uni), or the Makefile's
// pkg-config line).
#include "stats.hpp"

#include <algorithm>
#include <stdexcept>

#include <uni/module.hpp>

Summary summarize(std::vector<std::int64_t> values) {
  if (values.empty()) throw std::invalid_argument("summarize: no values");
  Summary s;
  s.count = static_cast<std::int64_t>(values.size());
  s.min = *std::min_element(values.begin(), values.end());
  s.max = *std::max_element(values.begin(), values.end());
  for (std::int64_t v : values) s.sum += v;
  return s;
}

UNI_EXPORT(summarize);
