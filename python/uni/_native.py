"""The connection through uni's own boss library (libuni-client.so, its C
ABI in include/uni/c_api.h, called with ctypes): one implementation of every
broker the library speaks, the built-in manager and NATS JetStream. It has
the face of _connection.Connection, so a Cluster runs on either; uni.connect
takes this one for nats:// and tls:// addresses, and for tcp:// when asked
(native=True). The pure-Python Connection stays the manager's default and
the reference the conformance suite checks against the protocol
(docs/python.md says why and what each costs)."""

import concurrent.futures
import ctypes
import ctypes.util
import os
import shutil
import threading

from . import _protocol as p
from .errors import ConnectError, Error

_LIBRARY = "libuni-client.so"
_REASONS = {1: "unreachable", 2: "auth-failed", 3: "refused", 4: "refused"}
_ERROR_SIZE = 1024


def _library_candidates():
    here = os.path.dirname(os.path.abspath(__file__))
    yield os.environ.get("UNI_CLIENT_LIBRARY")
    yield os.path.join(here, "..", "..", "build", "lib", _LIBRARY)
    uni = shutil.which("uni")
    if uni:
        prefix = os.path.dirname(os.path.dirname(os.path.realpath(uni)))
        for lib in ("lib", "lib64", os.path.join("lib", "x86_64-linux-gnu")):
            yield os.path.join(prefix, lib, _LIBRARY)
    yield ctypes.util.find_library("uni-client")


_lib = None
_lib_lock = threading.Lock()


def library():
    """libuni-client.so, loaded once, its functions typed."""
    global _lib
    with _lib_lock:
        if _lib is not None:
            return _lib
        tried = []
        for path in _library_candidates():
            if not path:
                continue
            tried.append(path)
            try:
                lib = ctypes.CDLL(path)
                break
            except OSError:
                continue
        else:
            raise Error("uni's boss library %s is not found (build uni, or set "
                        "UNI_CLIENT_LIBRARY); looked at %s" % (_LIBRARY, ", ".join(tried)))
        c = ctypes
        size_p = c.POINTER(c.c_size_t)
        lib.uni_c_connect.restype = c.c_void_p
        lib.uni_c_connect.argtypes = [c.c_char_p, c.c_char_p, c.c_char_p, c.c_int, c.c_size_t,
                                      c.POINTER(c.c_int), c.c_char_p, c.c_size_t]
        lib.uni_c_close.argtypes = [c.c_void_p]
        lib.uni_c_interrupt.argtypes = [c.c_void_p]
        lib.uni_c_session.restype = c.c_uint64
        lib.uni_c_session.argtypes = [c.c_void_p]
        lib.uni_c_module.argtypes = [c.c_void_p, c.c_char_p, c.c_size_t, c.c_char_p, c.c_char_p,
                                     c.c_char_p, c.c_size_t]
        lib.uni_c_submit.argtypes = [c.c_void_p, c.c_char_p, c.c_char_p, c.c_char_p,
                                     c.POINTER(c.c_uint64), c.POINTER(c.c_uint64), c.c_size_t,
                                     c.c_uint32, c.c_uint32, c.c_uint8, c.c_uint8,
                                     c.POINTER(c.c_uint64), c.c_char_p, c.c_size_t]
        lib.uni_c_events.argtypes = [c.c_void_p, c.c_int, c.POINTER(c.c_void_p), size_p]
        lib.uni_c_cancel.argtypes = [c.c_void_p, c.POINTER(c.c_uint64), c.c_size_t]
        lib.uni_c_stop.argtypes = [c.c_void_p, c.c_char_p, c.c_int, c.c_char_p, c.c_size_t,
                                   c.c_char_p, c.c_size_t]
        lib.uni_c_status.restype = c.c_void_p
        lib.uni_c_status.argtypes = [c.c_void_p, c.c_int, size_p, c.c_char_p, c.c_size_t]
        lib.uni_c_free.argtypes = [c.c_void_p]
        _lib = lib
        return lib


def _text(buffer):
    return buffer.value.decode("utf-8", "replace")


class NativeConnection:
    """Connects at construction (ConnectError otherwise); a thread takes the
    library's events in batches and calls each task's sink, as Connection's
    I/O thread does."""

    def __init__(self, address, authkey=None, authkey_file=None, connect_timeout=5.0,
                 max_outstanding=1_000_000):
        self._lib = library()
        error = ctypes.create_string_buffer(_ERROR_SIZE)
        reason = ctypes.c_int(0)
        key = authkey.encode() if isinstance(authkey, str) else authkey
        handle = self._lib.uni_c_connect(
            (address or "").encode(), key, authkey_file.encode() if authkey_file else None,
            int(connect_timeout * 1000), max_outstanding, ctypes.byref(reason), error,
            _ERROR_SIZE)
        if not handle:
            raise ConnectError(_REASONS.get(reason.value, "refused"), _text(error))
        self._handle = handle
        self.endpoint = address
        self.session = self._lib.uni_c_session(handle)
        self.welcome = {}
        self._lock = threading.Lock()  # sinks: a result may come before submit() returns
        self._sinks = {}  # seq -> (sink, on_started)
        self._early = {}  # seq -> events that came before their sink
        self._modules = set()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="uni-native", daemon=True)
        self._thread.start()

    # ---- user threads ------------------------------------------------------------------

    def _module(self, module):
        if module.hash in self._modules:
            return
        error = ctypes.create_string_buffer(_ERROR_SIZE)
        out = ctypes.create_string_buffer(32)
        if self._lib.uni_c_module(self._handle, module.data, len(module.data),
                                  str(module.path).encode(), out, error, _ERROR_SIZE) != 0:
            raise Error(_text(error))
        self._modules.add(module.hash)

    def submit(self, module, function, args, timeout_ms, wait_ms, max_attempts, flags, sink,
               on_started=None):
        return self._submit(module, function, [args], timeout_ms, wait_ms, max_attempts, flags,
                            [(sink, on_started)])

    def submit_many(self, module, function, packed_args, timeout_ms, wait_ms, max_attempts,
                    flags, sinks):
        return self._submit(module, function, packed_args, timeout_ms, wait_ms, max_attempts,
                            flags, [(s, None) for s in sinks])

    def _submit(self, module, function, packed, timeout_ms, wait_ms, max_attempts, flags, sinks):
        if self._closed:
            raise Error("the connection to the cluster is closed")
        self._module(module)
        count = len(packed)
        if count == 0:
            return None
        blob = b"".join(packed)
        offsets = (ctypes.c_uint64 * count)()
        sizes = (ctypes.c_uint64 * count)()
        at = 0
        for i, a in enumerate(packed):
            offsets[i] = at
            sizes[i] = len(a)
            at += len(a)
        first = ctypes.c_uint64(0)
        error = ctypes.create_string_buffer(_ERROR_SIZE)
        with self._lock:
            # Held across the call: the event thread takes it before it looks
            # a seq up, so no result passes its sink by.
            if self._lib.uni_c_submit(self._handle, module.hash, function.encode(), blob, offsets,
                                      sizes, count, timeout_ms, wait_ms, max_attempts, flags,
                                      ctypes.byref(first), error, _ERROR_SIZE) != 0:
                raise Error(_text(error))
            base = first.value
            for i, s in enumerate(sinks):
                self._sinks[base + i] = s
        return base

    def cancel_async(self, ids):
        seqs = [seq for session, seq in ids if session == self.session]
        if seqs:
            self._lib.uni_c_cancel(self._handle, (ctypes.c_uint64 * len(seqs))(*seqs), len(seqs))

    def request(self, kind, ids=()):
        reply = concurrent.futures.Future()

        def ask():
            try:
                reply.set_result(self._status() if kind == p.STATUS else self._stop(ids))
            except BaseException as e:
                reply.set_exception(e)
        threading.Thread(target=ask, daemon=True).start()
        return reply

    def _status(self):
        size = ctypes.c_size_t(0)
        error = ctypes.create_string_buffer(_ERROR_SIZE)
        data = self._lib.uni_c_status(self._handle, 5000, ctypes.byref(size), error, _ERROR_SIZE)
        if not data:
            raise Error(_text(error))
        try:
            return p.unpack(ctypes.string_at(data, size.value))
        finally:
            self._lib.uni_c_free(data)

    def _stop(self, ids):
        outcomes = []
        for session, seq in ids:
            out = ctypes.create_string_buffer(32)
            error = ctypes.create_string_buffer(_ERROR_SIZE)
            if self._lib.uni_c_stop(self._handle, p.task_id_text(session, seq).encode(), 5000,
                                    out, 32, error, _ERROR_SIZE) != 0:
                raise Error(_text(error))
            outcomes.append((session, seq, _text(out)))
        return outcomes

    def request_become(self, *args):
        raise Error("become is not offered through uni's library from Python yet: use `uni "
                    "become` or the C++ API")

    def outstanding(self):
        with self._lock:
            return len(self._sinks)

    def close(self):
        if self._closed:
            return
        self._closed = True
        self._lib.uni_c_interrupt(self._handle)  # the event thread leaves
        self._thread.join()
        handle, self._handle = self._handle, None
        self._lib.uni_c_close(handle)
        for seq, (sink, _) in list(self._sinks.items()):
            sink(seq, None, "the connection to the cluster was closed before the task finished",
                 "", "", 0)
        self._sinks.clear()

    # ---- the event thread --------------------------------------------------------------

    def _run(self):
        lib = self._lib
        data = ctypes.c_void_p()
        size = ctypes.c_size_t()
        handle = self._handle
        while True:
            n = lib.uni_c_events(handle, 200, ctypes.byref(data), ctypes.byref(size))
            if n < 0:
                return
            if n == 0:
                continue
            try:
                events = p.unpack(ctypes.string_at(data.value, size.value))
            finally:
                lib.uni_c_free(data.value)
            ready = []
            with self._lock:  # a submit registers its sinks under it
                for kind, seq, status, payload, worker, host, pid in events:
                    entry = self._sinks.get(seq)
                    if entry is None:
                        continue
                    if kind == 1:
                        if entry[1] is not None:
                            ready.append((entry[1], ()))
                        continue
                    del self._sinks[seq]
                    ready.append((entry[0], (seq, status, payload, worker, host, pid)))
            # Outside the lock: a future's callbacks may submit more.
            for call, args in ready:
                try:
                    call(*args)
                except Exception:  # a sink's failure is its future's business
                    pass
