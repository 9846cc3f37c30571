// A module built with uni/module.hpp that exports nothing (no UNI_EXPORT):
// `uni inspect` must say so, not that it was built with an older header.
#include <uni/module.hpp>

int forgotten(int x) { return x + 1; }
