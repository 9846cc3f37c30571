// The probe of Python support (see python_probe.hpp). The uni binary does not
// link libpython: the probe loads it as the runtime module does, and finds the
// few functions it calls by name.
#include "worker/python_probe.hpp"

#include <dlfcn.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <stdexcept>

#include "proto/platforms.hpp"
#include "worker/sandbox.hpp"

namespace uni::worker {

#ifdef UNI_PYTHON_LIBRARY

PythonSupport probe_python(const std::string& program, const SandboxOptions& sandbox,
                           const std::vector<std::string>& env) {
  ProbeOutput probe;
  try {
    probe = run_probe(program, "--probe-python", sandbox, env, false);
  } catch (const std::runtime_error& e) {
    return {"", e.what()};
  }
  if (!probe.ok) return {"", "Python did not start in an executor (the probe " + probe.how + ")"};
  if (probe.said.starts_with("ok "))
    return {std::string(proto::kPythonCapability), probe.said.substr(3)};
  return {"", probe.said.starts_with("no ") ? probe.said.substr(3) : "the probe said nothing"};
}

int run_python_probe() {
  void* python = ::dlopen(UNI_PYTHON_LIBRARY, RTLD_NOW | RTLD_GLOBAL);
  if (!python) {
    const char* e = ::dlerror();
    std::printf("no %s does not load (%s): install lib%s and python3-cloudpickle\n",
                UNI_PYTHON_LIBRARY, e ? e : "?", proto::kPythonCapability.data());
    return 0;
  }
  using SetHome = void (*)(const wchar_t*);
  using Initialize = void (*)(int);
  using RunString = int (*)(const char*);
  auto set_home = reinterpret_cast<SetHome>(::dlsym(python, "Py_SetPythonHome"));
  auto initialize = reinterpret_cast<Initialize>(::dlsym(python, "Py_InitializeEx"));
  auto run = reinterpret_cast<RunString>(::dlsym(python, "PyRun_SimpleString"));
  if (!initialize || !run) {
    std::printf("no %s lacks Py_InitializeEx or PyRun_SimpleString\n", UNI_PYTHON_LIBRARY);
    return 0;
  }
  std::fflush(stdout);
  static const wchar_t* home = L"" UNI_PYTHON_HOME;
  if (set_home) set_home(home);
  initialize(0);
  // What the runtime imports; the answer goes straight to descriptor 1.
  run("import os, sys\n"
      "try:\n"
      "    import cloudpickle, pickle, zlib\n"
      "    said = 'ok python%d.%d.%d with cloudpickle %s' % (sys.version_info[:3] + "
      "(cloudpickle.__version__,))\n"
      "except Exception as e:\n"
      "    said = 'no cloudpickle does not import in an executor (%s: %s): install "
      "python3-cloudpickle' % (type(e).__name__, e)\n"
      "os.write(1, (said + '\\n').encode())\n");
  return 0;
}

#else  // built without libpython3.11-dev

PythonSupport probe_python(const std::string&, const SandboxOptions&,
                           const std::vector<std::string>&) {
  return {"", "this uni was built without libpython3.11-dev"};
}

int run_python_probe() {
  std::printf("no this uni was built without libpython3.11-dev\n");
  return 0;
}

#endif

}  // namespace uni::worker
