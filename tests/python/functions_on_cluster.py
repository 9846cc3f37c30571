"""Python functions on a real cluster (a manager and workers, real
processes): lambdas, closures, functions of __main__ and of modules sent by
value, keyword arguments, exceptions raised as their own type with the
worker's traceback, a segfault that crashes only its executor, an endless
loop stopped by its timeout, a cancel, task output tagged with the task id,
C extensions inside the sandbox, a 10,000-task map that survives a worker's
SIGKILL, a Python echo service, and a worker without cloudpickle that is
never sent a Python function."""

import faulthandler
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import unittest

from support import UNI

import cloudpickle

import uni
from harness import LocalCluster, free_tcp_port

# This module is not installed on the workers: its functions go by value.
cloudpickle.register_pickle_by_value(sys.modules[__name__])

# A run that hangs says where before ctest's limit (300 s) ends it: every
# thread's stack, once, on stderr. ctest then kills the run and what it started.
faulthandler.dump_traceback_later(240, exit=False)

PYTHON = sys.executable


def echo_service_round_trip(test, cluster, line, while_running=lambda: None):
    """Spawns echo_server as a service, talks to it over TCP, checks
    while_running(), stops it and expects its result to be a cancel."""
    port = free_tcp_port()
    service = cluster.spawn(echo_server, port)
    test.assertTrue(service.wait_started(30))
    s = None
    for _ in range(200):  # the service may still be binding its port
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            break
        except OSError:
            time.sleep(0.05)
    test.assertIsNotNone(s, "the echo service never listened on port %d" % port)
    with s:
        s.sendall(line)
        test.assertEqual(s.recv(1024), line)
    while_running()
    test.assertIn(service.stop(), ("stopping", "cancelled"))
    with test.assertRaises(uni.TaskError) as caught:
        service.result(30)
    test.assertEqual(caught.exception.kind, "cancelled")


class Boom(Exception):
    """An exception type of the boss's own (sent by value, raised back as itself)."""


def square(x):
    return x * x


def boom(message):
    raise Boom(message)


def endless():
    while True:
        pass


def crash():
    import ctypes
    ctypes.string_at(0)  # SIGSEGV in the executor


def crash_once(marker):
    """Crashes its executor at the first attempt (leaving a marker), returns at the next."""
    if not os.path.exists(marker):
        open(marker, "w").close()
        crash()
    return "attempt after the crash"


def allocate(size):
    return len(bytearray(size))


def speak(n):
    print("line one of", n)
    print("line two of", n, file=sys.stderr)
    return n


def extensions():
    import json.decoder
    import zlib
    out = {"zlib": zlib.crc32(b"uni"), "json_c": json.decoder.c_scanstring is not None}
    try:
        import numpy
        out["numpy"] = int(numpy.arange(10).sum())
    except ImportError:
        pass
    return out


def echo_server(port):
    """The original's echo boss's server: echoes lines until QUIT."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(5)
    print("start serving", port)
    while True:
        client, _ = listener.accept()
        with client:
            data = client.recv(1024)
            if data.strip() == b"QUIT":
                return port
            client.sendall(data)


class PythonFunctions(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.local = LocalCluster(UNI, workers=1, slots=2)
        cls.local.apply_env()
        try:
            cls.cluster = uni.connect(cls.local.address)
        except BaseException:  # tearDownClass is not called when setUpClass fails
            cls.local.close()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.cluster.close()
        cls.local.close()

    def test_lambda_closure_kwargs_and_bound_method(self):
        c = self.cluster
        self.assertEqual(c.submit(lambda x, y: x + y, 2, 3).result(30), 5)
        base = 10

        def add_base(x, scale=1):
            return (x + base) * scale
        self.assertEqual(c.submit(add_base, 1, scale=3).result(30), 33)
        self.assertEqual(c.remote(square)(7), 49)

        class Counter:
            def __init__(self, start):
                self.start = start

            def add(self, n):
                return self.start + n
        self.assertEqual(c.submit(Counter(40).add, 2).result(30), 42)
        with c.executor() as pool:
            self.assertEqual(list(pool.map(square, range(5))), [0, 1, 4, 9, 16])
            self.assertEqual(pool.submit(add_base, 0, scale=2).result(30), 20)

    def test_a_function_of_main_runs_as_in_the_original(self):
        script = textwrap.dedent("""
            import uni
            def factorial(n):
                res = 1
                while n > 1:
                    res, n = res * n, n - 1
                return res
            with uni.connect() as cluster:
                print(list(cluster.map(factorial, range(1, 10))))
                print(cluster.submit(factorial, n=20).result(30))
            """)
        with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
            f.write(script)
        env = dict(os.environ, UNI_CONNECT=self.local.address,
                   PYTHONPATH=os.path.join(os.path.dirname(uni.__file__), ".."))
        try:
            r = subprocess.run([PYTHON, f.name], env=env, capture_output=True, text=True,
                               timeout=60)
        finally:
            os.unlink(f.name)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.splitlines(),
                         ["[1, 2, 6, 24, 120, 720, 5040, 40320, 362880]", "2432902008176640000"])

    def test_the_python_examples_of_make_run(self):
        examples = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "python")
        env = dict(os.environ, UNI_CONNECT=self.local.address,
                   PYTHONPATH=os.path.join(os.path.dirname(uni.__file__), ".."))
        r = subprocess.run([PYTHON, os.path.join(examples, "factorial_boss.py")], env=env,
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        self.assertEqual(lines[-1], "[1, 2, 6, 24, 120, 720, 5040, 40320, 362880]")
        self.assertRegex(lines[-2], r"^\(\d+, 362880\)$")  # (pid, 9!)
        ports = [str(free_tcp_port()), str(free_tcp_port())]
        r = subprocess.run([PYTHON, os.path.join(examples, "echo_boss.py")] + ports, env=env,
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        for port in ports:
            self.assertIn("port %s echoes: hello from the boss" % port, r.stdout)
            self.assertIn("server on port %s returned %s" % (port, port), r.stdout)

    def test_an_exception_comes_back_as_its_type_with_the_traceback(self):
        with self.assertRaises(Boom) as caught:
            self.cluster.submit(boom, "bad input").result(30)
        e = caught.exception
        self.assertEqual(str(e), "bad input")
        self.assertIn("in boom", e.remote_traceback)
        self.assertIn("Boom: bad input", e.remote_traceback)
        self.assertRegex(e.task_id, r"^[0-9a-f]{16}-\d+$")
        with self.assertRaises(ZeroDivisionError):
            self.cluster.submit(lambda: 1 / 0).result(30)
        # uni status names the function, not the runtime.
        failures = self.local.status()["recent_failures"]
        names = [f["function"] for f in failures]
        self.assertIn(__name__ + ".boom", names)
        boom_failure = failures[names.index(__name__ + ".boom")]
        self.assertTrue(boom_failure["error"].startswith(__name__ + ".Boom: bad input"),
                        boom_failure["error"])

    def test_an_exception_that_does_not_unpickle_is_a_task_error(self):
        class TwoArguments(Exception):
            def __init__(self, what, code):  # pickle calls TwoArguments(what): TypeError
                super().__init__(what)
                self.code = code

        def raise_it():
            raise TwoArguments("odd", 7)
        with self.assertRaises(uni.TaskError) as caught:
            self.cluster.submit(raise_it).result(30)
        self.assertEqual(caught.exception.kind, "exception")
        self.assertIn("TwoArguments: odd", caught.exception.message)
        self.assertIn("in raise_it", caught.exception.remote_traceback)

    def test_a_segfault_crashes_its_executor_not_the_worker(self):
        with self.assertRaises(uni.TaskError) as caught:
            self.cluster.remote(crash, max_attempts=1)()
        self.assertEqual(caught.exception.kind, "crashed")
        self.assertIn("SIGSEGV", caught.exception.message)
        self.assertIn(__name__ + ".crash", caught.exception.message)
        self.assertEqual(self.cluster.submit(square, 9).result(30), 81)

    def test_a_crash_is_retried_up_to_max_attempts_with_each_cause_named(self):
        directory = tempfile.mkdtemp(prefix="uni-py-retry-")
        self.addCleanup(shutil.rmtree, directory, ignore_errors=True)
        marker = os.path.join(directory, "crashed-once")
        requeued = self.local.status()["totals"]["requeued"]
        self.assertEqual(self.cluster.remote(crash_once, max_attempts=2)(marker),
                         "attempt after the crash")
        self.assertTrue(os.path.exists(marker))
        with self.assertRaises(uni.TaskError) as caught:
            self.cluster.remote(crash, max_attempts=2)()
        self.assertEqual(caught.exception.kind, "crashed")
        self.assertIn("attempt 1: ", caught.exception.message)
        self.assertIn("attempt 2: ", caught.exception.message)
        self.assertEqual(caught.exception.message.count("SIGSEGV"), 2, caught.exception.message)
        self.assertEqual(self.local.status()["totals"]["requeued"], requeued + 2)

    def test_an_endless_loop_is_stopped_by_its_timeout_and_by_cancel(self):
        start = time.monotonic()
        with self.assertRaises(uni.TaskError) as caught:
            self.cluster.remote(endless, timeout=1)()
        self.assertEqual(caught.exception.kind, "timed-out")
        self.assertLess(time.monotonic() - start, 20)
        future = self.cluster.submit(endless)
        deadline = time.monotonic() + 20
        while self.local.status()["running"] == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertTrue(future.cancel())
        self.assertEqual(self.cluster.submit(square, 3).result(30), 9)

    def test_output_lines_carry_the_task_id(self):
        future = self.cluster.submit(speak, 5)
        self.assertEqual(future.result(30), 5)
        worker = self.local.workers[0]
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            log = self.local.log(worker)
            if "[%s] line two of 5" % future.id in log:
                break
            time.sleep(0.05)
        self.assertIn("[%s] line one of 5" % future.id, log)
        self.assertIn("[%s] line two of 5" % future.id, log)

    def test_c_extensions_import_inside_the_sandbox(self):
        import zlib
        got = self.cluster.submit(extensions).result(30)
        self.assertEqual(got["zlib"], zlib.crc32(b"uni"))
        self.assertTrue(got["json_c"])
        try:
            import numpy  # noqa: F401
            self.assertEqual(got["numpy"], 45)
        except ImportError:
            pass

    def test_a_python_echo_service_is_spawned_and_stopped(self):
        def listed():
            services = self.cluster.status()["services"]
            self.assertEqual([x["function"] for x in services], [__name__ + ".echo_server"])
        echo_service_round_trip(self, self.cluster, b"hello\n", while_running=listed)

    def test_what_does_not_pickle_is_refused_before_anything_is_sent(self):
        import threading
        submitted = self.local.status()["totals"]["submitted"]
        with self.assertRaisesRegex(TypeError, r"^input 3: the arguments of .*\.square cannot be "
                                               r"sent: TypeError: cannot pickle '_thread.lock'"):
            self.cluster.map(square, [1, 2, threading.Lock(), 4])
        lock = threading.Lock()
        with self.assertRaisesRegex(TypeError, r"<lambda> cannot be sent to the cluster: "
                                               r"cloudpickle cannot pickle it"):
            self.cluster.submit(lambda: lock.locked())
        self.assertEqual(self.local.status()["totals"]["submitted"], submitted)
        self.assertEqual(list(self.cluster.map(square, [1, 2, 3])), [1, 4, 9])

    def test_uni_status_shows_which_workers_run_python_functions(self):
        workers = self.local.status()["workers"]
        self.assertEqual([w["capabilities"] for w in workers], [["python311"]])
        r = subprocess.run([UNI, "status", "--connect", self.local.address], env=self.local.env,
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(" process +python311\n", r.stdout)

    def test_the_function_is_shipped_once_for_a_map(self):
        uploads = self.local.status()["totals"]["module_uploads"]
        offset = 1000
        results = list(self.cluster.map(lambda x: x + offset, range(2000)))
        self.assertEqual(results, [x + 1000 for x in range(2000)])
        self.assertEqual(self.local.status()["totals"]["module_uploads"], uploads + 1)


class AWorkerWithoutCloudpickle(unittest.TestCase):
    def test_is_never_sent_a_python_function_and_says_why(self):
        hide = tempfile.mkdtemp(prefix="uni-no-cloudpickle-")
        self.addCleanup(shutil.rmtree, hide, ignore_errors=True)
        with open(os.path.join(hide, "cloudpickle.py"), "w") as f:
            f.write("raise ImportError('hidden from this worker by the test')\n")
        with LocalCluster(UNI, workers=0) as local:
            local.env["PYTHONPATH"] = hide  # seen by the worker's probe, in an executor
            worker = local.add_worker(slots=1)
            local.apply_env()
            with uni.connect(local.address, on_notice=lambda text: None) as cluster:
                with self.assertRaises(uni.TaskError) as caught:
                    cluster.remote(square, wait=1)(3)
                self.assertEqual(caught.exception.kind, "no-worker")
                self.assertIn("+python311", caught.exception.message)
                self.assertIn("python3-cloudpickle", caught.exception.message)
            self.assertIn("Python functions: not offered: cloudpickle does not import in an "
                          "executor (ImportError: hidden from this worker by the test)",
                          local.log(worker))
            self.assertNotIn("capabilities", local.status()["workers"][0])


class UniInspect(unittest.TestCase):
    def inspect(self, path):
        r = subprocess.run([UNI, "inspect", "--json", path], capture_output=True, text=True,
                           timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        return json.loads(r.stdout)

    def test_names_the_function_a_python_module_carries_and_the_runtime_as_such(self):
        from uni._python_functions import PythonFunction, _Runtime
        module = PythonFunction(None, square).module
        with tempfile.NamedTemporaryFile(suffix=".so") as f:
            f.write(module.data)
            f.flush()
            got = self.inspect(f.name)
        self.assertEqual(got["hash"], module.hex)
        self.assertTrue(got["platform"].endswith("+python311"), got["platform"])
        self.assertEqual([x["name"] for x in got["functions"]], [__name__ + ".square"])
        self.assertGreater(got["python_function"]["pickled_bytes"], 0)
        runtime = self.inspect(_Runtime.get().path)
        self.assertEqual(runtime["functions"], [])
        self.assertIn("the Python runtime", runtime["note"])


class SandboxAndIsolation(unittest.TestCase):
    def test_a_strict_sandbox_runs_python_functions_and_c_extensions(self):
        with LocalCluster(UNI, workers=1, slots=1, worker_args=("--sandbox", "strict")) as local:
            local.apply_env()
            with uni.connect(local.address) as cluster:
                import zlib
                got = cluster.submit(extensions).result(30)
                self.assertEqual(got["zlib"], zlib.crc32(b"uni"))
                self.assertTrue(got["json_c"])
                with self.assertRaises(Boom):
                    cluster.submit(boom, "strict").result(30)
            self.assertIn("Python functions: offered", local.log(local.workers[0]))

    def test_a_worker_with_thread_isolation_is_not_sent_python_functions(self):
        with LocalCluster(UNI, workers=1, slots=1, worker_args=("--isolation", "thread")) as local:
            local.apply_env()
            with uni.connect(local.address, on_notice=lambda text: None) as cluster:
                with self.assertRaises(uni.TaskError) as caught:
                    cluster.remote(square, wait=1)(3)
                self.assertEqual(caught.exception.kind, "no-worker")
                self.assertIn("+python311", caught.exception.message)
                # It runs modules as before.
                ident = cluster.module(os.path.join(os.environ["UNI_MODULE_DIR"], "libtestfns.so"))
                self.assertEqual(ident.ident.submit(5).result(30), 5)
            self.assertIn("Python functions: not offered under --isolation thread",
                          local.log(local.workers[0]))


class UnderAMemoryLimit(unittest.TestCase):
    def test_a_memory_error_comes_back_and_the_executor_is_replaced(self):
        with LocalCluster(UNI, workers=1, slots=1, worker_args=("--mem-limit", "256M")) as local:
            local.apply_env()
            with uni.connect(local.address) as cluster:
                self.assertEqual(cluster.submit(allocate, 1 << 20).result(30), 1 << 20)
                with self.assertRaises(MemoryError) as caught:
                    cluster.remote(allocate, max_attempts=1)(1 << 30)
                self.assertIn("under the worker's --mem-limit of 256 MiB",
                              caught.exception.remote_traceback)
                self.assertIn("in allocate", caught.exception.remote_traceback)
                self.assertEqual(cluster.submit(allocate, 1 << 20).result(30), 1 << 20)
            worker = local.workers[0]
            self.assertIsNone(worker.poll())
            deadline = time.monotonic() + 10  # the worker's log is written as it goes
            while "replaced: a task ran out of memory" not in local.log(worker):
                if time.monotonic() > deadline:
                    self.fail("the executor was not replaced:\n" + local.log(worker))
                time.sleep(0.05)


class MapSurvivesAWorkerKill(unittest.TestCase):
    def test_ten_thousand_tasks_exact_and_in_order(self):
        with LocalCluster(UNI, workers=2, slots=2) as local:
            local.apply_env()
            with uni.connect(local.address) as cluster:
                def slow_square(x):
                    import time
                    time.sleep(0.0005)
                    return x * x
                got = []
                for i, value in enumerate(cluster.map(slow_square, range(10000))):
                    got.append(value)
                    if i == 1000:
                        os.kill(local.workers[0].pid, signal.SIGKILL)
                self.assertEqual(got, [x * x for x in range(10000)])


class NatsCluster:
    """nats-server with JetStream and uni workers on it (no manager)."""

    def __init__(self, workers=1, slots=2):
        self.dir = tempfile.mkdtemp(prefix="uni-py-nats-")
        self.port = free_tcp_port()
        self.address = "nats://127.0.0.1:%d" % self.port
        self.env = dict(os.environ, XDG_CACHE_HOME=os.path.join(self.dir, "cache"),
                        UNI_NATS_ACK_WAIT_MS="2000")
        self.env.pop("UNI_CONNECT", None)
        self.processes, self.workers = [], []
        try:
            self._start(workers, slots)
        except BaseException:  # what started is stopped: a failed start leaves nothing
            self.close()
            raise

    def _start(self, workers, slots):
        server = next(s for s in ("/usr/sbin/nats-server", "/usr/bin/nats-server")
                      if os.path.exists(s))
        self._spawn("nats", [server, "-js", "-sd", os.path.join(self.dir, "js"), "-a",
                             "127.0.0.1", "-p", str(self.port)])
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("nats-server did not start:\n" + self.log(self.processes[0]))
                time.sleep(0.05)
        for _ in range(workers):
            self.add_worker(slots)

    def _spawn(self, name, argv):
        log = open(os.path.join(self.dir, "%s.%d.log" % (name, len(self.processes))), "wb")
        process = subprocess.Popen(argv, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
        process.log_path = log.name
        log.close()
        self.processes.append(process)
        return process

    def add_worker(self, slots=2, env=None):
        saved = self.env
        self.env = dict(self.env, **(env or {}))
        worker = self._spawn("worker", [UNI, "worker", "--connect", self.address, "--slots",
                                        str(slots)])
        self.env = saved
        self.workers.append(worker)
        deadline = time.monotonic() + 30
        while "connected to" not in self.log(worker):
            if time.monotonic() > deadline or worker.poll() is not None:
                raise RuntimeError("worker did not join:\n" + self.log(worker))
            time.sleep(0.05)
        return worker

    def log(self, process):
        with open(process.log_path, errors="replace") as f:
            return f.read()

    def close(self):
        for process in reversed(self.processes):
            if process.poll() is None:
                try:
                    os.killpg(process.pid, signal.SIGKILL)
                except OSError:
                    pass
                process.wait()
        self.processes = []
        shutil.rmtree(self.dir, ignore_errors=True)


class OnNats(unittest.TestCase):
    """The same on a NATS JetStream cluster, through uni's boss library."""

    @classmethod
    def setUpClass(cls):
        cls.nats = NatsCluster(workers=2, slots=2)
        try:
            cls.cluster = uni.connect(cls.nats.address)
        except BaseException:  # tearDownClass is not called when setUpClass fails
            cls.nats.close()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.cluster.close()
        cls.nats.close()

    def test_functions_exceptions_crash_timeout_and_status(self):
        c = self.cluster
        base = 10
        self.assertEqual(c.submit(lambda x, scale=1: (x + base) * scale, 1, scale=3).result(30), 33)
        self.assertEqual(c.remote(square)(7), 49)
        with self.assertRaises(Boom) as caught:
            c.submit(boom, "on nats").result(30)
        self.assertIn("in boom", caught.exception.remote_traceback)
        with self.assertRaises(uni.TaskError) as caught:
            c.remote(crash, max_attempts=1)()
        self.assertEqual(caught.exception.kind, "crashed")
        with self.assertRaises(uni.TaskError) as caught:
            c.remote(endless, timeout=1)()
        self.assertEqual(caught.exception.kind, "timed-out")
        workers = c.status()["workers"]
        self.assertEqual([w.get("capabilities") for w in workers], [["python311"]] * 2)

    def test_an_echo_service_is_spawned_and_stopped(self):
        echo_service_round_trip(self, self.cluster, b"hi nats\n")

    def test_ten_thousand_tasks_survive_a_worker_kill(self):
        def slow_square(x):
            import time
            time.sleep(0.0005)
            return x * x
        extra = self.nats.add_worker(slots=2)
        got = []
        for i, value in enumerate(self.cluster.map(slow_square, range(10000))):
            got.append(value)
            if i == 1000:
                os.kill(extra.pid, signal.SIGKILL)
        self.assertEqual(got, [x * x for x in range(10000)])

    def test_the_python_examples_and_a_function_of_main(self):
        examples = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "python")
        env = dict(os.environ, UNI_CONNECT=self.nats.address,
                   PYTHONPATH=os.path.join(os.path.dirname(uni.__file__), ".."))
        r = subprocess.run([PYTHON, os.path.join(examples, "factorial_boss.py")], env=env,
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.splitlines()[-1], "[1, 2, 6, 24, 120, 720, 5040, 40320, 362880]")
        ports = [str(free_tcp_port()), str(free_tcp_port())]
        r = subprocess.run([PYTHON, os.path.join(examples, "echo_boss.py")] + ports, env=env,
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        for port in ports:
            self.assertIn("port %s echoes: hello from the boss" % port, r.stdout)
            self.assertIn("server on port %s returned %s" % (port, port), r.stdout)

    def test_a_worker_without_cloudpickle_is_not_sent_python_functions(self):
        hide = tempfile.mkdtemp(prefix="uni-no-cloudpickle-")
        self.addCleanup(shutil.rmtree, hide, ignore_errors=True)
        with open(os.path.join(hide, "cloudpickle.py"), "w") as f:
            f.write("raise ImportError('hidden from this worker by the test')\n")
        nats = NatsCluster(workers=0)
        try:
            worker = nats.add_worker(slots=1, env={"PYTHONPATH": hide})
            self.assertIn("Python functions: not offered", nats.log(worker))
            with uni.connect(nats.address) as cluster:
                with self.assertRaises(uni.TaskError) as caught:
                    cluster.remote(square, wait=1)(3)
            self.assertEqual(caught.exception.kind, "no-worker")
            self.assertIn("python3-cloudpickle", caught.exception.message)
        finally:
            nats.close()


if __name__ == "__main__":
    unittest.main()
