// The probe of Python support (see python_probe.hpp). The uni binary does not
// link libpython: the probe loads it as the runtime module does, and finds the
// few functions it calls by name.
#include "worker/python_probe.hpp"

#include <dlfcn.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "common/process.hpp"
#include "common/unique_fd.hpp"

namespace uni::worker {

#ifdef UNI_PYTHON_LIBRARY

PythonSupport probe_python(const std::string& program, const SandboxOptions& sandbox,
                           const std::vector<std::string>& env) {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0)
    return {"", std::string("cannot probe Python: pipe: ") + std::strerror(errno)};
  UniqueFd read_end(pipe_fds[0]), write_end(pipe_fds[1]);
  SpawnOptions probe;
  probe.argv = {program, "executor", "--probe-python"};
  for (std::string& flag : sandbox_flags(sandbox)) probe.argv.push_back(std::move(flag));
  probe.fds = {{write_end.get(), 1}};
  probe.env = env;
  probe.inherit_env = false;
  probe.stdin_null = true;
  Process process = Process::spawn(probe);
  write_end.reset();
  std::string said;
  char chunk[1024];
  for (;;) {
    ssize_t n = ::read(read_end.get(), chunk, sizeof(chunk));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    said.append(chunk, static_cast<std::size_t>(n));
  }
  ExitStatus status = process.wait();
  while (!said.empty() && (said.back() == '\n' || said.back() == ' ')) said.pop_back();
  if (status.signaled || status.code != 0)
    return {"", "Python did not start in an executor (the probe " + status.describe() + ")"};
  if (said.starts_with("ok ")) {
    std::string rest = said.substr(3);
    return {UNI_PYTHON_CAPABILITY, rest};
  }
  return {"", said.starts_with("no ") ? said.substr(3) : "the probe said nothing"};
}

int run_python_probe() {
  void* python = ::dlopen(UNI_PYTHON_LIBRARY, RTLD_NOW | RTLD_GLOBAL);
  if (!python) {
    const char* e = ::dlerror();
    std::printf("no %s does not load (%s): install lib%s and python3-cloudpickle\n",
                UNI_PYTHON_LIBRARY, e ? e : "?", UNI_PYTHON_CAPABILITY);
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
