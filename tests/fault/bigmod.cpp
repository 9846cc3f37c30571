// A module of about 3 MiB, for the module size limit.
#include <uni/module.hpp>

[[gnu::used]] static const unsigned char kPadding[3 << 20] = {1};

int big_size() { return static_cast<int>(sizeof(kPadding)) + kPadding[0] * 0; }

UNI_EXPORT(big_size);
