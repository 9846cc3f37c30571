// Whether this worker's executors can run Python functions (the runtime
// module python/runtime/uni_python.cpp, docs/python.md): its libpython loads
// and cloudpickle imports, tried once at start-up by a short-lived `uni
// executor --probe-python` in an executor's own sandbox and environment. A
// worker that passes announces the platform with the capability
// ("x86_64-linux-libstdc++-cxx11+python311"), so that the broker sends it
// Python functions; one that does not never gets them, and says why.
#pragma once

#include <string>
#include <vector>

#include "worker/sandbox.hpp"

namespace uni::worker {

struct PythonSupport {
  std::string capability;  // "python311", or empty: not offered
  std::string said;        // for the log: the versions found, or why not
};

// Supervisor side: runs `program executor --probe-python` with the sandbox
// flags of `sandbox` and the environment `env` (an executor's).
PythonSupport probe_python(const std::string& program, const SandboxOptions& sandbox,
                           const std::vector<std::string>& env);

// Executor side (`uni executor --probe-python`, already sandboxed): loads
// libpython, imports cloudpickle, prints "ok <capability> <versions>" or
// "no <why>"; exit code 0 either way, unless Python itself aborts.
int run_python_probe();

}  // namespace uni::worker
