// patch: built twice (patch_v1, patch_v2) with a different PATCH_VERSION, for
// the live-patching tests. Same export names, different results; the counter
// is a static of an inline function, the kind that -fno-gnu-unique keeps
// apart between two loaded builds.
#include <string>

#include <uni/module.hpp>

#ifndef PATCH_VERSION
#error "build with -DPATCH_VERSION=N"
#endif

inline int& calls() {
  static int count = 0;
  return count;
}

int version() { return PATCH_VERSION; }

// How often this build's bump() ran in this process.
int bump() { return ++calls(); }

std::string describe(int x) {
  return "v" + std::to_string(PATCH_VERSION) + ":" + std::to_string(x);
}

UNI_EXPORT(version);
UNI_EXPORT(bump);
UNI_EXPORT(describe);
