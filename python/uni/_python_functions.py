"""Python functions on the cluster: any picklable callable (a function, a
lambda, a closure, a bound method, a function of __main__) runs on the
workers, as the original Python universal server's did.

A Python function travels as a module of its own: the bytes of the Python
runtime module (libuni_python.so, which embeds CPython), then the function
pickled with cloudpickle and a trailer. So it is content-addressed, uploaded
once per hash (a map of 100,000 calls sends it once), stored, fetched and
cached like any module, and runs in an executor process with the same
guarantees; the task is named by the function's qualified name, which is
what `uni status` shows. Arguments are one msgpack bin, the pickled (args,
kwargs); the result is one bin, the pickled value. A function that raises
fails its task with status "exception": the text is the worker's traceback,
followed by the pickled exception, which the boss raises as the same type
(docs/python.md)."""

import base64
import collections
import hashlib
import os
import pickle
import shutil
import struct
import sys
import threading

from . import _protocol as p
from ._module_file import ModuleFile
from .errors import Error, TaskError, WorkerInfo

_TRAILER_MAGIC = b"uni-python-fn-v1"
_EXCEPTION_MARKER = "\n--- uni: pickled exception ---\n"
_RUNTIME_FILE = "libuni_python.so"
_NAME_LIMIT = 200  # a task's function name stays short: it is in every status line
_DEFAULT_OPTIONS = (0, 0, 3)

try:
    import cloudpickle
except ImportError:  # refused when a Python function is sent, saying what to install
    cloudpickle = None


def _runtime_candidates():
    here = os.path.dirname(os.path.abspath(__file__))
    yield os.environ.get("UNI_PYTHON_RUNTIME")
    # In the source tree: python/uni -> build/modules.
    yield os.path.join(here, "..", "..", "build", "modules", _RUNTIME_FILE)
    yield os.path.join(here, _RUNTIME_FILE)
    # Beside the uni binary on PATH: build/bin -> build/modules, or an
    # installed prefix's lib/uni.
    uni = shutil.which("uni")
    if uni:
        prefix = os.path.dirname(os.path.dirname(os.path.realpath(uni)))
        yield os.path.join(prefix, "modules", _RUNTIME_FILE)
        for lib in ("lib", "lib64", os.path.join("lib", "x86_64-linux-gnu")):
            yield os.path.join(prefix, lib, "uni", _RUNTIME_FILE)


class _Runtime:
    """The runtime module's bytes and platform tag, read once."""

    _lock = threading.Lock()
    _loaded = None

    @classmethod
    def get(cls):
        with cls._lock:
            if cls._loaded is None:
                cls._loaded = cls._find()
            return cls._loaded

    @staticmethod
    def _find():
        if cloudpickle is None:
            raise Error("Python functions need cloudpickle in the boss too (Debian: "
                        "python3-cloudpickle)")
        tried = []
        for path in _runtime_candidates():
            if not path:
                continue
            tried.append(path)
            if os.path.isfile(path):
                module = ModuleFile(path)
                capability = module.platform.rpartition("+")[2]
                mine = "python%d%d" % sys.version_info[:2]
                if capability != mine:
                    raise Error("the Python runtime %s runs %s, this boss %s: a pickled function "
                                "runs only under the Python version that pickled it"
                                % (path, capability, mine))
                return module
        raise Error("the Python runtime module %s is not found (build uni with Debian's "
                    "libpython3.11-dev installed, or set UNI_PYTHON_RUNTIME); looked at %s"
                    % (_RUNTIME_FILE, ", ".join(tried)))


class FunctionModule:
    """A module carrying one pickled function: what Connection ships (hash,
    platform, data; path names it in messages)."""

    __slots__ = ("hash", "hex", "platform", "data", "path", "name")

    def __init__(self, runtime, name, pickled):
        payload = name.encode("utf-8") + b"\0" + pickled
        self.data = runtime.data + payload + struct.pack("<Q", len(payload)) + _TRAILER_MAGIC
        self.hash = hashlib.blake2b(self.data, digest_size=32).digest()
        self.hex = self.hash.hex()
        self.platform = runtime.platform
        self.name = name
        self.path = "python function %s (module %s)" % (name, self.hex[:12])


# Modules made lately, by the hash of the name and the pickle: a function
# submitted again costs its pickling, not a copy of the runtime's bytes.
_made = collections.OrderedDict()
_made_lock = threading.Lock()


def _function_module(name, pickled):
    key = hashlib.blake2b(name.encode("utf-8") + b"\0" + pickled, digest_size=32).digest()
    with _made_lock:
        module = _made.get(key)
        if module is not None:
            _made.move_to_end(key)
            return module
    module = FunctionModule(_Runtime.get(), name, pickled)
    with _made_lock:
        _made[key] = module
        while len(_made) > 256:
            _made.popitem(last=False)
    return module


def qualified_name(fn):
    """The name a task of `fn` carries: module.qualname ("__main__.square",
    "__main__.<lambda>", "mymod.Counter.add")."""
    target = getattr(fn, "__func__", fn)  # a bound method: its function
    qualname = getattr(target, "__qualname__", None) or type(fn).__qualname__
    module = getattr(target, "__module__", None) or type(fn).__module__
    name = "%s.%s" % (module, qualname) if module else qualname
    return name.replace("\0", "?")[:_NAME_LIMIT]


def _pack_bin(data):
    n = len(data)
    if n < 256:
        head = b"\x91\xc4" + bytes((n,))
    elif n < 65536:
        head = b"\x91\xc5" + struct.pack(">H", n)
    else:
        head = b"\x91\xc6" + struct.pack(">I", n)
    return head + data


def pack_call(args, kwargs):
    """The task's arguments: one msgpack bin, the pickled (args, kwargs)."""
    return _pack_bin(cloudpickle.dumps((args, kwargs), protocol=5))


def remote_exception(status, payload, worker, host, pid, task_id):
    """The exception for a failed task of a Python function: the function's
    own exception (same type, the worker's traceback attached as a note and
    as .remote_traceback) where it unpickles here, else a uni.TaskError."""
    if status is None:
        return Error(payload)
    text = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else str(payload)
    kind = p.STATUS_NAMES[status] if status < len(p.STATUS_NAMES) else "status %d" % status
    info = WorkerInfo(worker, host, pid) if worker else None
    text, marker, blob = text.partition(_EXCEPTION_MARKER)
    # The executor may add a word of its own after the blob ("... under the
    # worker's --mem-limit of 256 MiB"): base64 has no space.
    blob, _, added = blob.strip().partition(" ")
    if added:
        text = text.rstrip("\n") + " (" + added + ")"
    if marker:
        try:
            exc = pickle.loads(base64.b64decode(blob))
        except Exception:  # a type the boss cannot import: TaskError with the text
            exc = None
        if isinstance(exc, BaseException):
            traceback = text.partition("\n")[2] or text
            exc.remote_traceback = traceback
            exc.task_id = task_id
            exc.worker = info
            if hasattr(exc, "add_note"):
                exc.add_note("raised on uni worker %s (task %s):\n%s"
                             % (info.id if info else "?", task_id, traceback.rstrip()))
            return exc
    error = TaskError(kind, text, info, task_id)
    error.remote_traceback = text.partition("\n")[2] if kind == "exception" else None
    return error


class PythonFunction:
    """A Python callable run on the cluster (cluster.remote(fn), or what
    cluster.submit/map/spawn/executor make of one). Calling it blocks for the
    result; submit() returns a Future. Its keyword arguments are the
    function's own: task options (timeout, wait, max_attempts, in seconds) go
    to options(), or to cluster.remote(fn, ...)."""

    def __init__(self, cluster, fn, defaults=_DEFAULT_OPTIONS):
        if not callable(fn):
            raise TypeError("%r is not callable" % (fn,))
        self._cluster = cluster
        self.fn = fn
        self.name = qualified_name(fn)
        try:
            pickled = cloudpickle.dumps(fn, protocol=5) if cloudpickle else None
        except Exception as e:
            raise TypeError("%s cannot be sent to the cluster: cloudpickle cannot pickle it (%s: "
                            "%s)" % (self.name, type(e).__name__, e)) from None
        if pickled is None:
            _Runtime.get()  # raises, saying what is missing
        self.module = _function_module(self.name, pickled)
        self._defaults = defaults

    def __repr__(self):
        return "<uni Python function %s>" % self.name

    def options(self, timeout=None, wait=None, max_attempts=None):
        """The same function with other default task options."""
        from ._cluster import _options
        copy = object.__new__(PythonFunction)
        copy.__dict__.update(self.__dict__)
        copy._defaults = _options(timeout, wait, max_attempts, self._defaults)
        return copy

    def pack(self, call):
        args, kwargs = call
        try:
            return pack_call(tuple(args), dict(kwargs))
        except Exception as e:
            raise TypeError("the arguments of %s cannot be sent: %s: %s"
                            % (self.name, type(e).__name__, e)) from None

    @staticmethod
    def decode(payload):
        return pickle.loads(p.unpack(payload))

    failure = staticmethod(remote_exception)

    def submit(self, *args, **kwargs):
        return self._cluster._submit(self, (args, kwargs), self._defaults, 0)

    def __call__(self, *args, **kwargs):
        return self.submit(*args, **kwargs).result()
