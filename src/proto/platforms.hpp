// Platform tags with a capability: "x86_64-linux-libstdc++-cxx11+python311"
// is the platform of a module that also needs what a worker announces as
// "python311" (the Python runtime for CPython 3.11, docs/python.md; no '.',
// since a platform names a NATS stream). A worker serves its own
// tag and, beside it, the tag plus each capability it has; brokers match
// tags exactly. Here: reading the capability, and saying what a worker needs.
#pragma once

#include <string>
#include <string_view>

namespace uni::proto {

// The capability of a worker that runs Python functions (CPython 3.11,
// docs/python.md): its tag is the platform's plus "+python311".
inline constexpr std::string_view kPythonCapability = "python311";

// The capability a tag names after its last '+' ("python311"), or empty.
// It begins with a letter: "libstdc++" has a '+' or two of its own.
std::string_view platform_capability(std::string_view platform);

// "platform P" and, for a tag with a capability, what a worker needs to
// serve it: for "no worker" notices and failures.
std::string platform_need(std::string_view platform);

}  // namespace uni::proto
