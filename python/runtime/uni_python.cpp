// libuni_python.so — the Python runtime: a uni module that embeds CPython and
// runs one Python function carried at the end of its own file. The Python
// client makes a module of each function it ships: these bytes, then the
// function pickled with cloudpickle and a trailer (docs/python.md). So a
// Python function is content-addressed, uploaded once, stored, fetched,
// cached, signed and loaded exactly as a C++ module is, and runs in an
// executor process with the same guarantees; the interpreter starts with the
// first such function an executor loads and stays between tasks.
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>

#include "uni/detail/module_abi.hpp"
#include "uni/detail/platform.hpp"

// What a worker must have to run this module: the tag's capability part,
// "python311" for CPython 3.11 (no '.': a platform names a NATS stream).
#define UNI_PY_STR2(x) #x
#define UNI_PY_STR(x) UNI_PY_STR2(x)
#define UNI_PYTHON_CAPABILITY "python" UNI_PY_STR(PY_MAJOR_VERSION) UNI_PY_STR(PY_MINOR_VERSION)
#define UNI_PYTHON_PLATFORM UNI_PLATFORM_TAG "+" UNI_PYTHON_CAPABILITY

// The trailer after the function: the payload's size (u64, little-endian)
// and this magic, the file's last 16 bytes. The payload is the function's
// qualified name, a NUL, and its cloudpickle.
constexpr char kTrailerMagic[16] = {'u', 'n', 'i', '-', 'p', 'y', 't', 'h',
                                    'o', 'n', '-', 'f', 'n', '-', 'v', '1'};

namespace {

[[gnu::used, gnu::section(UNI_PLATFORM_SECTION)]] constexpr char kModulePlatform[] =
    UNI_PYTHON_PLATFORM;

// The function this copy of the runtime carries, read from its own file once.
struct Carried {
  bool read = false;
  std::string name;     // its qualified name, what tasks and `uni status` call it
  std::string pickled;  // cloudpickle of the function
  std::string signature;
  uni_export entry{};
  uni_module_table table{UNI_MODULE_ABI_VERSION, kModulePlatform, 0, nullptr};
  PyObject* function = nullptr;  // unpickled at its first task, kept (a new reference)
};
Carried carried;

std::string read_exactly(int fd, off_t offset, std::size_t size) {
  std::string out(size, '\0');
  std::size_t done = 0;
  while (done < size) {
    ssize_t n = ::pread(fd, out.data() + done, size - done, offset + static_cast<off_t>(done));
    if (n <= 0) return {};
    done += static_cast<std::size_t>(n);
  }
  return out;
}

// Reads the payload from the file this copy was loaded from (a worker loads
// modules through /proc/self/fd/N of their sealed image).
void read_carried() {
  carried.read = true;
  Dl_info info{};
  if (::dladdr(reinterpret_cast<void*>(&read_carried), &info) == 0 || !info.dli_fname) return;
  int fd = ::open(info.dli_fname, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  struct stat st {};
  if (::fstat(fd, &st) == 0 && st.st_size > 24) {
    std::string tail = read_exactly(fd, st.st_size - 24, 24);
    if (tail.size() == 24 && std::memcmp(tail.data() + 8, kTrailerMagic, 16) == 0) {
      std::uint64_t size = 0;
      for (int i = 7; i >= 0; --i) size = (size << 8) | static_cast<unsigned char>(tail[i]);
      if (size <= static_cast<std::uint64_t>(st.st_size) - 24) {
        std::string payload = read_exactly(fd, st.st_size - 24 - static_cast<off_t>(size), size);
        std::size_t nul = payload.find('\0');
        if (nul != std::string::npos && nul > 0) {
          carried.name = payload.substr(0, nul);
          carried.pickled = payload.substr(nul + 1);
        }
      }
    }
  }
  ::close(fd);
}

// ---- the interpreter ----------------------------------------------------------------------

// Task output goes through C stdio, which the executor captures and tags
// with the running task; Python's own sys.stdout would write to descriptor 1
// and lose the task id.
PyObject* write_output(PyObject*, PyObject* args) {
  int stream = 1;
  const char* data = nullptr;
  Py_ssize_t size = 0;
  if (!PyArg_ParseTuple(args, "is#", &stream, &data, &size)) return nullptr;
  FILE* to = stream == 2 ? stderr : stdout;
  Py_BEGIN_ALLOW_THREADS std::fwrite(data, 1, static_cast<std::size_t>(size), to);
  Py_END_ALLOW_THREADS Py_RETURN_NONE;
}

PyObject* flush_output(PyObject*, PyObject* args) {
  int stream = 1;
  if (!PyArg_ParseTuple(args, "i", &stream)) return nullptr;
  std::fflush(stream == 2 ? stderr : stdout);
  Py_RETURN_NONE;
}

PyMethodDef kOutputMethods[] = {
    {"write", write_output, METH_VARARGS, "write(stream, text): task output, tagged"},
    {"flush", flush_output, METH_VARARGS, "flush(stream)"},
    {nullptr, nullptr, 0, nullptr}};

// The runtime's Python half, module _uni_runtime: loading a function, running
// it, and describing its failure. The failure text starts with the
// exception's last line (what `uni status` shows, cut), then the worker's
// traceback, then the pickled exception in base64 after a marker line, for
// the boss to raise as the same type.
constexpr const char* kGlue = R"PY(
import base64, io, pickle, sys, traceback
import cloudpickle

MARKER = "\n--- uni: pickled exception ---\n"

class _Output(io.TextIOBase):
    def __init__(self, stream):
        self._stream = stream
    def writable(self):
        return True
    def write(self, text):
        _output.write(self._stream, text)
        return len(text)
    def flush(self):
        _output.flush(self._stream)
    @property
    def encoding(self):
        return "utf-8"

sys.stdout = _Output(1)
sys.stderr = _Output(2)

def load(pickled):
    return cloudpickle.loads(pickled)

def call(fn, packed):
    args, kwargs = pickle.loads(packed)
    result = fn(*args, **kwargs)
    try:
        return pickle.dumps(result, protocol=5)
    except Exception:
        return cloudpickle.dumps(result, protocol=5)

def failure(exc):
    last = traceback.format_exception_only(type(exc), exc)[-1].strip()
    if isinstance(exc, MemoryError):
        last = "out of memory: " + last  # the executor retires after it
    tb = exc.__traceback__
    if tb is not None and tb.tb_frame.f_code.co_filename == "<uni python runtime>":
        tb = tb.tb_next  # the runtime's own frame is nothing the user wrote
    text = last + "\n" + "".join(traceback.format_exception(type(exc), exc, tb))
    try:
        blob = base64.b64encode(cloudpickle.dumps(exc)).decode("ascii")
    except Exception:
        return text
    return text + MARKER + blob
)PY";

PyObject* glue = nullptr;  // the _uni_runtime module (shared by every copy in the process)
std::string start_error;

// The exception being raised, normalized, with its traceback; the error is cleared.
PyObject* take_exception() {
  PyObject *type = nullptr, *value = nullptr, *traceback = nullptr;
  PyErr_Fetch(&type, &value, &traceback);
  PyErr_NormalizeException(&type, &value, &traceback);
  if (value && traceback) PyException_SetTraceback(value, traceback);
  Py_XDECREF(type);
  Py_XDECREF(traceback);
  return value;
}

std::string python_error_text() {
  PyObject* exc = take_exception();
  std::string text = "unknown Python error";
  if (exc) {
    if (PyObject* s = PyObject_Str(exc)) {
      if (const char* c = PyUnicode_AsUTF8(s)) text = std::string(Py_TYPE(exc)->tp_name) + ": " + c;
      Py_DECREF(s);
    }
    Py_DECREF(exc);
  }
  PyErr_Clear();
  return text;
}

// Starts the interpreter if no copy of the runtime has yet, and finds the
// glue. Returns false with start_error set when Python cannot run here.
bool start_python() {
  if (glue) return true;
  if (!start_error.empty()) return false;
  if (!Py_IsInitialized()) {
    // This copy hosts the output functions the interpreter keeps: it must
    // never be unloaded.
    Dl_info self{};
    if (::dladdr(reinterpret_cast<void*>(&start_python), &self) && self.dli_fname)
      ::dlopen(self.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
    // Modules are loaded RTLD_LOCAL, so libpython came in local too; C
    // extensions (zlib, _json, numpy) look its symbols up in the global
    // scope, so it is made global before anything is imported.
    if (!::dlopen(UNI_PYTHON_LIBRARY, RTLD_NOW | RTLD_GLOBAL | RTLD_NOLOAD) &&
        !::dlopen(UNI_PYTHON_LIBRARY, RTLD_NOW | RTLD_GLOBAL)) {
      const char* e = ::dlerror();
      start_error = std::string("cannot load " UNI_PYTHON_LIBRARY ": ") + (e ? e : "?");
      return false;
    }
    PyConfig config;
    PyConfig_InitPythonConfig(&config);
    config.install_signal_handlers = 0;  // signals are the executor's
    config.parse_argv = 0;
    config.write_bytecode = 0;
    PyConfig_SetBytesString(&config, &config.home, UNI_PYTHON_HOME);
    PyConfig_SetBytesString(&config, &config.program_name, UNI_PYTHON_HOME "/bin/python3");
    PyStatus status = Py_InitializeFromConfig(&config);
    PyConfig_Clear(&config);
    if (PyStatus_Exception(status)) {
      start_error = std::string("cannot start Python: ") + (status.err_msg ? status.err_msg : "?");
      return false;
    }
    static PyModuleDef output_def = {PyModuleDef_HEAD_INIT,
                                     "_uni_output",
                                     nullptr,
                                     -1,
                                     kOutputMethods,
                                     nullptr,
                                     nullptr,
                                     nullptr,
                                     nullptr};
    PyObject* output = PyModule_Create(&output_def);
    PyObject* module = PyImport_AddModule("_uni_runtime");  // borrowed
    PyObject* dict = module ? PyModule_GetDict(module) : nullptr;
    if (!output || !dict || PyDict_SetItemString(dict, "_output", output) != 0 ||
        PyDict_SetItemString(dict, "__builtins__", PyEval_GetBuiltins()) != 0) {
      start_error = "cannot set up the runtime: " + python_error_text();
      return false;
    }
    Py_DECREF(output);
    PyObject* code = Py_CompileString(kGlue, "<uni python runtime>", Py_file_input);
    PyObject* ran = code ? PyEval_EvalCode(code, dict, dict) : nullptr;
    Py_XDECREF(code);
    if (!ran) {
      start_error = "cannot start the Python runtime: " + python_error_text() +
                    " (a worker needs python3-cloudpickle)";
      return false;
    }
    Py_DECREF(ran);
    Py_INCREF(module);
    glue = module;
    PyEval_SaveThread();  // the GIL is taken per task: threads a task starts run between tasks
    return true;
  }
  // Another copy started it: take its glue.
  PyGILState_STATE gil = PyGILState_Ensure();
  glue = PyImport_ImportModule("_uni_runtime");
  if (!glue || !PyObject_HasAttrString(glue, "call")) {
    Py_XDECREF(glue);
    glue = nullptr;
    start_error = "the Python runtime is not set up in this process";
  }
  PyGILState_Release(gil);
  return glue != nullptr;
}

void emit_text(void* ctx, uni_emit_fn emit, int status, const std::string& text) {
  emit(ctx, status, text.data(), text.size());
}

// The failure of the current Python exception, as the glue describes it.
std::string failure_text() {
  PyObject* exc = take_exception();
  std::string text = "unknown Python error";
  if (PyObject* described = PyObject_CallMethod(glue, "failure", "O", exc)) {
    Py_ssize_t size = 0;
    if (const char* c = PyUnicode_AsUTF8AndSize(described, &size)) text.assign(c, size);
    Py_DECREF(described);
  }
  PyErr_Clear();
  Py_XDECREF(exc);
  return text;
}

// The one argument: a msgpack array holding one bin, the pickled (args, kwargs).
bool unpack_argument(const char* data, std::size_t size, const char*& body, std::size_t& length) {
  auto byte = [&](std::size_t i) { return static_cast<unsigned char>(data[i]); };
  if (size < 3 || byte(0) != 0x91) return false;
  std::size_t header = 0;
  length = 0;
  switch (byte(1)) {
    case 0xc4:
      header = 3;
      length = byte(2);
      break;
    case 0xc5:
      if (size < 4) return false;
      header = 4;
      length = (std::size_t{byte(2)} << 8) | byte(3);
      break;
    case 0xc6:
      if (size < 6) return false;
      header = 6;
      length = (std::size_t{byte(2)} << 24) | (std::size_t{byte(3)} << 16) |
               (std::size_t{byte(4)} << 8) | byte(5);
      break;
    default: return false;
  }
  if (size - header != length) return false;
  body = data + header;
  return true;
}

std::string msgpack_bin(const char* data, std::size_t size) {
  std::string out;
  if (size < 256) {
    out = {'\xc4', static_cast<char>(size)};
  } else if (size < 65536) {
    out = {'\xc5', static_cast<char>(size >> 8), static_cast<char>(size & 0xff)};
  } else {
    out = {'\xc6', static_cast<char>(size >> 24), static_cast<char>((size >> 16) & 0xff),
           static_cast<char>((size >> 8) & 0xff), static_cast<char>(size & 0xff)};
  }
  out.append(data, size);
  return out;
}

void invoke(const char* args, std::size_t size, void* ctx, uni_emit_fn emit) noexcept {
  const char* packed = nullptr;
  std::size_t packed_size = 0;
  if (!unpack_argument(args, size, packed, packed_size))
    return emit_text(ctx, emit, UNI_INVOKE_BAD_ARGS,
                     "a Python function takes one argument, its pickled (args, kwargs) as msgpack "
                     "bin (the Python client packs it)");
  if (!start_python()) return emit_text(ctx, emit, UNI_INVOKE_THREW, start_error);
  PyGILState_STATE gil = PyGILState_Ensure();
  if (!carried.function) {
    PyObject* pickled = PyBytes_FromStringAndSize(carried.pickled.data(),
                                                  static_cast<Py_ssize_t>(carried.pickled.size()));
    carried.function = pickled ? PyObject_CallMethod(glue, "load", "O", pickled) : nullptr;
    Py_XDECREF(pickled);
    if (!carried.function) {
      std::string text = "cannot unpickle " + carried.name + ": " + failure_text();
      PyGILState_Release(gil);
      return emit_text(ctx, emit, UNI_INVOKE_THREW, text);
    }
  }
  PyObject* argument = PyBytes_FromStringAndSize(packed, static_cast<Py_ssize_t>(packed_size));
  PyObject* result =
      argument ? PyObject_CallMethod(glue, "call", "OO", carried.function, argument) : nullptr;
  Py_XDECREF(argument);
  if (!result) {
    std::string text = failure_text();
    PyGILState_Release(gil);
    return emit_text(ctx, emit, UNI_INVOKE_THREW, text);
  }
  char* bytes = nullptr;
  Py_ssize_t length = 0;
  PyBytes_AsStringAndSize(result, &bytes, &length);
  std::string out = msgpack_bin(bytes, static_cast<std::size_t>(length));
  Py_DECREF(result);
  PyGILState_Release(gil);
  emit(ctx, UNI_INVOKE_OK, out.data(), out.size());
}

}  // namespace

// The entry point: a table of one export, the carried function under its
// qualified name (none for the runtime's bare file).
extern "C" __attribute__((visibility("default"))) const uni_module_table* uni_module_v1() {
  if (!carried.read) {
    read_carried();
    if (!carried.name.empty()) {
      carried.signature = "python " + carried.name + "(*args, **kwargs)";
      carried.entry = {carried.name.c_str(), carried.signature.c_str(), &invoke,
                       reinterpret_cast<const void*>(&invoke)};
      carried.table.count = 1;
      carried.table.exports = &carried.entry;
    }
  }
  return &carried.table;
}
