// bulk: built several times with a distinct BULK_ID, each a module of some
// 256 KiB of its own content, to fill a small module cache.
#include <uni/module.hpp>

#ifndef BULK_ID
#error "build with -DBULK_ID=N"
#endif

// Distinct bytes per build, kept by [[gnu::used]] so the file has this size.
[[gnu::used]] static const unsigned char kPadding[256 * 1024] = {BULK_ID};

int bulk_id() { return BULK_ID + kPadding[0] * 0; }

UNI_EXPORT(bulk_id);
