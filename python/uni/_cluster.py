"""The public face of the Python client: a Cluster, the modules and functions
it runs, futures, map, an Executor, services and status (see uni/__init__.py
for the tour). Everything that touches the network goes through
_connection.Connection."""

import collections
import concurrent.futures
import os
import threading

from . import _protocol as p
from ._connection import Connection
from ._module_file import ModuleFile
from ._python_functions import PythonFunction
from ._types import Mismatch, make_checker, make_result_converter
from .errors import (ArgumentError, BecomeError, ConnectError, Error, TaskError,
                     UnknownFunctionError, WorkerInfo)

_DEFAULT_ATTEMPTS = 3

# What cluster.become did: handover, the seconds from the old version's
# hand_over() to the new version's take_over() (the time in which the service
# answered nobody); becomes, the service's count of becomes, this one included.
BecomeResult = collections.namedtuple("BecomeResult", "handover becomes")


def _options(timeout, wait, max_attempts, defaults=(0, 0, _DEFAULT_ATTEMPTS)):
    """(timeout_ms, wait_ms, max_attempts) from seconds; None keeps the default."""
    timeout_ms, wait_ms, attempts = defaults
    if timeout is not None:
        timeout_ms = _milliseconds("timeout", timeout)
    if wait is not None:
        wait_ms = _milliseconds("wait", wait)
    if max_attempts is not None:
        if not isinstance(max_attempts, int) or not 1 <= max_attempts <= 255:
            raise ValueError("max_attempts must be between 1 and 255, got %r" % (max_attempts,))
        attempts = max_attempts
    return timeout_ms, wait_ms, attempts


def _milliseconds(name, seconds):
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0:
        raise ValueError("%s must be a number of seconds >= 0, got %r" % (name, seconds))
    return min(int(round(seconds * 1000)), 0xFFFFFFFF)


def _failure(status, payload, worker, host, pid, task_id):
    """The exception for a result that is not ok."""
    if status is None:
        return Error(payload)
    text = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else str(payload)
    kind = p.STATUS_NAMES[status] if status < len(p.STATUS_NAMES) else "status %d" % status
    return TaskError(kind, text, WorkerInfo(worker, host, pid) if worker else None, task_id)


class Future(concurrent.futures.Future):
    """A concurrent.futures.Future of one task, with its task id and the worker
    that ran it. cancel() also stops the task on the cluster."""

    def __init__(self, connection, session):
        super().__init__()
        self._connection = connection
        self._session = session
        self.seq = 0
        self.worker = None  # WorkerInfo, once a worker has reported

    @property
    def id(self):
        """The task id, as `uni stop` takes it."""
        return p.task_id_text(self._session, self.seq)

    def cancel(self):
        """Drops the task if it is queued, stops it if it runs (process isolation).
        Returns False if it had already finished."""
        if self.done():
            return False
        self._connection.cancel_async([(self._session, self.seq)])
        return super().cancel()


class RemoteFunction:
    """A function of a module, called on the cluster: each call is a task.
    Calling it blocks for the result; submit() returns a Future. Keyword
    arguments are task options, in seconds: timeout (run-time limit), wait
    (limit on waiting for a worker), max_attempts (runs lost to crashes before
    it fails; 1 = never rerun)."""

    def __init__(self, cluster, module, name, description, defaults=(0, 0, _DEFAULT_ATTEMPTS)):
        self._cluster = cluster
        self.module = module
        self.name = name
        self.description = description  # ExportDescription, or None if the module has none
        self._defaults = defaults
        if description is not None:
            self._check = make_checker(name, description.signature, description.params)
            self._convert = make_result_converter(description.result)
        else:
            self._check = list
            self._convert = None

    @property
    def signature(self):
        return self.description.signature if self.description else None

    def __repr__(self):
        return "<uni function %s of %s>" % (self.signature or self.name, self.module.path)

    def options(self, timeout=None, wait=None, max_attempts=None):
        """The same function with other default task options."""
        return RemoteFunction(self._cluster, self.module, self.name, self.description,
                              _options(timeout, wait, max_attempts, self._defaults))

    def pack(self, args):
        """The msgpack array of arguments, checked against the signature.
        Raises ArgumentError with the worker's wording."""
        try:
            return p.pack(self._check(args))
        except Mismatch as e:
            raise ArgumentError(str(e)) from None
        except (TypeError, ValueError, OverflowError) as e:
            raise ArgumentError("%s: the arguments cannot be sent: %s" % (self.name, e)) from None

    def decode(self, payload):
        value = p.unpack(payload)
        return self._convert(value) if self._convert else value

    failure = staticmethod(_failure)

    def submit(self, *args, timeout=None, wait=None, max_attempts=None):
        return self._cluster._submit(self, args, _options(timeout, wait, max_attempts,
                                                          self._defaults), 0)

    def __call__(self, *args, timeout=None, wait=None, max_attempts=None):
        return self.submit(*args, timeout=timeout, wait=wait, max_attempts=max_attempts).result()


class Module:
    """A module file: its functions (from the file's own .uni_exports) as
    attributes or by name. path, hash (hex), platform."""

    def __init__(self, cluster, file):
        self._cluster = cluster
        self._file = file
        self.path = file.path
        self.hash = file.hex
        self.platform = file.platform
        self._functions = {}
        if file.exports is not None:
            for name, description in file.exports.items():
                self._functions[name] = RemoteFunction(cluster, file, name, description)

    @property
    def functions(self):
        """name -> RemoteFunction; empty for a module built before .uni_exports
        (its functions are still reachable with function(name))."""
        return dict(self._functions)

    def function(self, name):
        if name in self._functions:
            return self._functions[name]
        if self._file.exports is None:  # nothing to check against: the worker decides
            return RemoteFunction(self._cluster, self._file, name, None)
        exported = ", ".join(self._functions) or "(nothing)"
        raise UnknownFunctionError("unknown function '%s': the module exports %s"
                                   % (name, exported))

    __getitem__ = function

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        return self.function(name)

    def __dir__(self):
        return list(super().__dir__()) + list(self._functions)

    def __repr__(self):
        return "<uni module %s (%s, %d functions)>" % (self.path, self.hash[:12],
                                                      len(self._functions))


class Service:
    """A long-running task holding its worker slot until it returns or is
    stopped (cluster.spawn). Its worker's report that it runs arrives as an
    event (SERVICE_STARTED), so started() and wait_started() ask nothing."""

    def __init__(self, cluster, future, started, settled):
        self._cluster = cluster
        self.future = future
        self._started = started  # threading.Event: its worker reported it running
        self._settled = settled  # threading.Event: it runs, or has ended
        future.add_done_callback(lambda _: settled.set())

    @property
    def id(self):
        return self.future.id

    def stop(self, timeout=5.0):
        """Stops the service (its executor is killed, its slot freed). Returns
        the manager's answer: "stopping", "cancelled" or "done"."""
        state = self._cluster.stop(self.id, timeout)
        return state

    def started(self, timeout=None):
        """Whether its worker has reported it running (as `uni spawn` waits
        for). Answers at once; `timeout` is accepted for callers of earlier
        versions, which asked the manager for its status here."""
        return self._started.is_set()

    def wait_started(self, timeout=None):
        """Waits at most `timeout` seconds (None: without limit) for its worker
        to report it running. True once it runs; False at the timeout (no
        worker free, or none of its platform), and False at once if it ended
        without being reported running (done() is then True, and result()
        raises why)."""
        if not self._started.is_set():
            self._settled.wait(timeout)
        return self._started.is_set()

    def become(self, module, function=None, timeout=10.0):
        """cluster.become(this service, module, function, timeout)."""
        return self._cluster.become(self, module, function, timeout)

    def result(self, timeout=None):
        return self.future.result(timeout)

    def done(self):
        return self.future.done()


class _MapRun:
    """The results of one map, filled by the I/O thread, read in input order."""

    __slots__ = ("results", "waiting", "cond")

    def __init__(self, n):
        self.results = [None] * n
        self.waiting = -1
        self.cond = threading.Condition()

    def sink(self, index):
        def deliver(seq, status, payload, worker, host, pid):
            self.results[index] = (status, payload, worker, host, pid)
            if self.waiting == index:
                with self.cond:
                    self.cond.notify()
        return deliver

    def wait(self, index, deadline):
        item = self.results[index]
        if item is not None:
            return item
        with self.cond:
            self.waiting = index
            while self.results[index] is None:
                remaining = None if deadline is None else deadline - _now()
                if remaining is not None and remaining <= 0:
                    raise concurrent.futures.TimeoutError()
                self.cond.wait(remaining)
            self.waiting = -1
        return self.results[index]


def _now():
    import time
    return time.monotonic()


class Executor(concurrent.futures.Executor):
    """A concurrent.futures.Executor whose work runs on the cluster: submit(fn,
    *args) takes a RemoteFunction (code written for ProcessPoolExecutor works
    once its function is one). Workers, not this object, bound parallelism."""

    def __init__(self, cluster):
        self._cluster = cluster
        self._lock = threading.Lock()
        self._futures = set()
        self._shutdown = False

    def submit(self, fn, /, *args, **kwargs):
        # A module function takes task options as keywords; a Python
        # function's keywords are its own.
        fn = self._cluster._remote(fn)
        with self._lock:
            if self._shutdown:
                raise RuntimeError("cannot schedule new futures after shutdown")
            future = fn.submit(*args, **kwargs)
            self._futures.add(future)
        future.add_done_callback(self._forget)
        return future

    def _forget(self, future):
        with self._lock:
            self._futures.discard(future)

    def map(self, fn, *iterables, timeout=None, chunksize=1):
        return self._cluster.map(fn, *iterables, result_timeout=timeout)

    def shutdown(self, wait=True, *, cancel_futures=False):
        with self._lock:
            self._shutdown = True
            futures = list(self._futures)
        if cancel_futures:
            for f in futures:
                f.cancel()
        if wait:
            concurrent.futures.wait(futures)


class Cluster:
    """A connection to a uni cluster (uni.connect). Safe to use from any number
    of threads. Use it as a context manager, or call close()."""

    def __init__(self, connection):
        self._connection = connection
        self.address = connection.endpoint
        self._modules = {}
        self._modules_lock = threading.Lock()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        """Says BYE and stops the I/O thread; unfinished futures fail."""
        self._connection.close()

    @property
    def session(self):
        return self._connection.session

    def module(self, path):
        """The module file at `path` (a path, never a search). Raises
        ModuleError if it is not a uni module. Cached while the file is unchanged."""
        path = os.fspath(path)
        try:
            st = os.stat(path)
            key = (st.st_mtime_ns, st.st_size)
        except OSError:
            key = None
        with self._modules_lock:
            cached = self._modules.get(path)
            if cached and key and cached[0] == key:
                return cached[1]
        module = Module(self, ModuleFile(path))
        with self._modules_lock:
            self._modules[path] = (key, module)
        return module

    def function(self, path, name):
        return self.module(path).function(name)

    def _submit(self, fn, args, options, flags, on_started=None):
        packed = fn.pack(args)
        future = Future(self._connection, self._connection.session)

        def deliver(seq, status, payload, worker, host, pid):
            future.seq = seq
            if future.done():
                return  # cancelled locally
            if worker:
                future.worker = WorkerInfo(worker, host, pid)
            try:
                if status == p.OK:
                    future.set_result(fn.decode(payload))
                else:
                    future.set_exception(fn.failure(status, payload, worker, host, pid, future.id))
            except concurrent.futures.InvalidStateError:
                pass  # cancelled meanwhile
            except Exception as e:  # a result that does not decode
                future.set_exception(Error("%s: the result does not decode: %s" % (fn.name, e)))

        future.seq = self._connection.submit(fn.module, fn.name, packed, *options, flags,
                                             deliver, on_started)
        return future

    def map(self, fn, *iterables, timeout=None, wait=None, max_attempts=None,
            result_timeout=None):
        """fn over the inputs, as the built-in map: one task per element (of
        each iterable in step), all submitted at once; results are yielded in
        input order. A failed task raises its TaskError when its turn comes.
        Arguments are checked before anything is sent. timeout/wait/max_attempts
        are task options; result_timeout (seconds) bounds the whole wait.
        fn: a module function, or any picklable Python callable (pickled once
        for the whole map, and shipped once)."""
        fn = self._remote(fn)
        options = _options(timeout, wait, max_attempts, fn._defaults)
        packed = []
        python = isinstance(fn, PythonFunction)  # its arguments: (args, kwargs)
        for index, args in enumerate(zip(*iterables)):
            try:
                packed.append(fn.pack((args, {}) if python else args))
            except ArgumentError as e:
                raise ArgumentError("input %d: %s" % (index + 1, e.message)) from None
            except TypeError as e:  # a Python function's argument that does not pickle
                raise TypeError("input %d: %s" % (index + 1, e)) from None
        run = _MapRun(len(packed))
        sinks = [run.sink(i) for i in range(len(packed))]
        first = self._connection.submit_many(fn.module, fn.name, packed, *options, 0, sinks)
        deadline = None if result_timeout is None else _now() + result_timeout
        return self._map_results(fn, run, first, deadline)

    def _map_results(self, fn, run, first, deadline):
        session = self._connection.session
        n = len(run.results)
        done = 0
        try:
            for done in range(n):
                status, payload, worker, host, pid = run.wait(done, deadline)
                if status != p.OK:
                    raise fn.failure(status, payload, worker, host, pid,
                                     p.task_id_text(session, first + done))
                yield fn.decode(payload)
            done = n
        finally:
            # Abandoned (an error, or the caller stopped iterating): stop the rest.
            rest = [(session, first + i) for i in range(done, n) if run.results[i] is None]
            if rest and first is not None:
                self._connection.cancel_async(rest)

    def executor(self):
        """A concurrent.futures.Executor running on this cluster: submit(fn,
        *args, **kwargs) takes module functions and Python callables."""
        return Executor(self)

    def remote(self, fn, timeout=None, wait=None, max_attempts=None):
        """A Python callable (function, lambda, closure, bound method, a
        function of __main__) as a function of the cluster: calling it runs
        it on a worker and blocks for the result; .submit(*args, **kwargs)
        returns a Future. The callable is pickled now, with cloudpickle, and
        shipped once. Task options in seconds, as for module functions."""
        fn = self._remote(fn)
        return fn.options(timeout, wait, max_attempts)

    def submit(self, fn, /, *args, **kwargs):
        """Runs fn(*args, **kwargs) on some worker; returns a Future. fn is
        any picklable Python callable (or a module function, whose keywords
        are then task options). A function that raises makes result() raise
        the same exception (its worker's traceback attached), where its type
        unpickles here, else uni.TaskError."""
        return self._remote(fn).submit(*args, **kwargs)

    def _remote(self, fn):
        if isinstance(fn, (RemoteFunction, PythonFunction)):
            return fn
        return PythonFunction(self, fn)

    def spawn(self, fn, *args, detached=False, **options):
        """Starts fn(*args) as a service on some worker; returns a Service at
        once (service.wait_started() waits for it to run). detached: the
        manager keeps it running after this client goes, as `uni spawn` does
        (its result is then dropped)."""
        fn = self._remote(fn)
        if isinstance(fn, PythonFunction):
            args = (args, {})
        flags = p.FLAG_SERVICE | p.FLAG_STARTED_EVENT | (p.FLAG_DETACHED if detached else 0)
        started, settled = threading.Event(), threading.Event()

        def on_started():  # on the I/O thread
            started.set()
            settled.set()
        future = self._submit(fn, args, _options(
            options.get("timeout"), options.get("wait"), options.get("max_attempts"),
            fn._defaults), flags, on_started)
        return Service(self, future, started, settled)

    def become(self, service, module, function=None, timeout=10.0):
        """Turns a running service (a Service, or its id as `uni spawn` prints
        it) into `function` of `module` (a path, a cluster.module(), or a
        module function, then without `function`) without a restart: the
        version running hands its state and descriptors over, and the new one,
        loaded beside it in the same executor, takes them; the service keeps
        its id and its connections (docs/protocol.md §7.21). The service's
        function must take a uni::ServiceContext& first (include/uni/service.hpp).

        Returns a BecomeResult(handover, becomes) once the new version has
        taken over. Raises BecomeError with the cluster's reason when it did
        not happen, and the service then runs on as before: no such service
        is running, it has not started yet, its function takes no context, the
        module does not load or is refused, the function is not exported or
        expects another state type, it threw before taking over, or the service
        did not hand over within `timeout` seconds. ValueError for an id that is
        not one, ModuleError for a file that is no module. ConnectError if the
        answer is lost (the connection dropped, or none came within
        2 * timeout + 30 s): whether it happened is then unknown."""
        service_id = service.id if isinstance(service, Service) else service
        if isinstance(module, RemoteFunction) and function is None:
            module, function = module.module, module.name
        if not isinstance(function, str) or not function:
            raise ValueError("become needs the name of the new function, got %r" % (function,))
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) \
                or not 0 < timeout <= 86400:
            raise ValueError("the become timeout must be above 0 s and at most a day, got %r"
                             % (timeout,))
        if isinstance(service_id, str):
            try:
                task = p.parse_task_id(service_id)
            except ValueError:
                raise ValueError("'%s' is not a service id (uni spawn prints one, e.g. "
                                 "1f2e3d4c5b6a7988-1)" % service_id) from None
        else:
            task = tuple(service_id)
            service_id = p.task_id_text(*task)
        if isinstance(module, Module):
            module = module._file
        elif not isinstance(module, ModuleFile):
            module = self.module(module)._file
        timeout_ms = max(1, _milliseconds("timeout", timeout))
        reply = self._connection.request_become(task, module, function, timeout_ms)
        wait = 2 * timeout + 30  # the manager answers within this (§7.21)
        try:
            ok, text, handover_ns, becomes = reply.result(wait)
        except concurrent.futures.TimeoutError:
            raise ConnectError("unreachable", "the manager did not answer the become request "
                               "within %g s" % wait) from None
        if not ok:
            raise BecomeError(service_id, function, text)
        return BecomeResult(handover_ns / 1e9, becomes)

    def stop(self, task_id, timeout=5.0):
        """Stops a service or cancels a task by id (as `uni stop`: its owner's, or
        any with the shared authkey; RefusedError otherwise).
        Returns "stopping", "cancelled", "done" or "unknown"."""
        session, seq = p.parse_task_id(task_id) if isinstance(task_id, str) else task_id
        reply = self._connection.request(p.CANCEL, [(session, seq)])
        outcomes = self._await(reply, timeout, "cancel")
        return outcomes[0][2] if outcomes else "unknown"

    def status(self, timeout=5.0):
        """The manager's status map (docs/protocol.md §7.13) as a dict: workers,
        queue, running, services, totals, ..."""
        return self._await(self._connection.request(p.STATUS), timeout, "status")

    @staticmethod
    def _await(reply, timeout, what):
        try:
            return reply.result(timeout)
        except concurrent.futures.TimeoutError:
            raise Error("the manager did not answer the %s request within %g s"
                        % (what, timeout)) from None

    def outstanding(self):
        """Tasks submitted and not finished."""
        return self._connection.outstanding()
