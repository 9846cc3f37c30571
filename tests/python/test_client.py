"""The Python client against a real cluster, for what the conformance suite
does not cover: the Executor drop-in, Future details, Python-side types,
connection errors, arguments refused before anything is sent, close(), and
`pip install ./python`."""

import concurrent.futures
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest

from support import HERE, UNI, module

import uni
from harness import LocalCluster


class Client(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.local = LocalCluster(UNI, workers=1, slots=2)
        cls.local.apply_env()
        cls.cluster = uni.connect(cls.local.address)
        cls.t = cls.cluster.module(module("testfns"))

    @classmethod
    def tearDownClass(cls):
        cls.cluster.close()
        cls.local.close()

    def test_executor_drops_in_for_a_process_pool(self):
        with self.cluster.executor() as pool:
            futures = [pool.submit(self.t.add, i, i) for i in range(20)]
            done = sorted(f.result() for f in concurrent.futures.as_completed(futures))
            self.assertEqual(done, [2 * i for i in range(20)])
            self.assertEqual(list(pool.map(self.t.ident, range(10))), list(range(10)))
            with self.assertRaises(TypeError):  # what cloudpickle cannot send
                pool.submit(lambda: None, threading.Lock())
        with self.assertRaises(RuntimeError):
            pool.submit(self.t.add, 1, 2)

    def test_future_has_id_worker_and_callbacks(self):
        f = self.t.whoami.submit()
        seen = []
        f.add_done_callback(lambda fut: seen.append(fut.result()))
        pid = f.result(30)
        self.assertRegex(f.id, r"^[0-9a-f]{16}-\d+$")
        self.assertEqual(f.worker.pid, pid)
        self.assertEqual(self.local.status()["workers"][0]["id"], f.worker.id)
        self.assertEqual(seen, [pid])

    def test_python_types(self):
        self.assertEqual(self.t.divmod(7, 2), (3, 1))  # std::pair is a tuple
        self.assertEqual(self.t.describe_number(2), (4, "2", 0.5))
        self.assertEqual(self.t.count_words(("a", "b", "a")), {"a": 2, "b": 1})
        self.assertIsNone(self.t.half_if_even(3))
        self.assertEqual(self.t.greet(b"bytes"), "hello, bytes")

    def test_arguments_are_refused_before_anything_is_sent(self):
        before = self.local.status()["totals"]["submitted"]
        with self.assertRaises(uni.ArgumentError) as e:
            self.t.add(1, "x")
        self.assertIsInstance(e.exception, TypeError)
        self.assertEqual(e.exception.kind, "bad-arguments")
        with self.assertRaisesRegex(uni.ArgumentError, "^input 3: add: argument 1"):
            self.cluster.map(self.t.add, [1, 2, "3"], [1, 2, 3])
        with self.assertRaises(uni.UnknownFunctionError):
            self.t.nope
        with self.assertRaises(ValueError):
            self.t.add(1, 2, max_attempts=0)
        self.assertEqual(self.local.status()["totals"]["submitted"], before)

    def test_options_and_map_result_timeout(self):
        with self.assertRaises(uni.TaskError) as e:
            self.t.sleep_ms.options(timeout=0.2)(5000)
        self.assertEqual(e.exception.kind, "timed-out")
        results = self.cluster.map(self.t.sleep_ms, [3000], result_timeout=0.2)
        with self.assertRaises(concurrent.futures.TimeoutError):
            next(results)
        results.close()  # abandoned: the rest is cancelled

    def test_connect_errors(self):
        start = time.monotonic()
        with self.assertRaises(uni.ConnectError) as e:
            uni.connect(self.local.address, authkey="wrong")
        self.assertEqual(e.exception.reason, "auth-failed")
        self.assertIn("authentication failed", str(e.exception))
        with self.assertRaises(uni.ConnectError) as e:
            uni.connect("tcp://127.0.0.1:1", connect_timeout=0.5)
        self.assertEqual(e.exception.reason, "unreachable")
        self.assertLess(time.monotonic() - start, 10)
        # NATS goes through uni's library: a port where no server listens.
        with self.assertRaises(uni.ConnectError) as e:
            uni.connect("nats://127.0.0.1:1", connect_timeout=0.5)
        self.assertEqual(e.exception.reason, "unreachable")
        # A client key file is for the manager through this package's protocol.
        with self.assertRaisesRegex(uni.Error, r"a client key file \(key=\) is for the built-in"):
            uni.connect("nats://127.0.0.1:1", key="/nonexistent/boss.secret")
        with self.assertRaisesRegex(uni.Error, r"a client key file \(key=\) is for the built-in"):
            uni.connect(self.local.address, key="/nonexistent/boss.secret", native=True)
        with self.assertRaises(uni.ConnectError) as e:
            uni.connect("nat://127.0.0.1:4222", authkey="k")
        self.assertIn("unknown scheme nat://", str(e.exception))

    def test_close_fails_what_is_unfinished(self):
        other = uni.connect(self.local.address)
        f = other.module(module("testfns")).sleep_ms.submit(10000)
        other.close()
        with self.assertRaisesRegex(uni.Error, "closed before the task finished"):
            f.result(10)
        with self.assertRaises(uni.Error):
            other.module(module("testfns")).add(1, 2)


class Install(unittest.TestCase):
    def test_pip_installs_the_package(self):
        pip = subprocess.run([sys.executable, "-m", "pip", "--version"], capture_output=True)
        if pip.returncode != 0:
            self.skipTest("no pip for " + sys.executable)
        with tempfile.TemporaryDirectory() as target:
            source = os.path.join(target, "src")
            shutil.copytree(os.path.join(HERE, "..", "..", "python"), source,
                            ignore=shutil.ignore_patterns("__pycache__"))
            r = subprocess.run([sys.executable, "-m", "pip", "install", "--no-index", "--target",
                                os.path.join(target, "lib"), source],
                               capture_output=True, text=True, timeout=120)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            r = subprocess.run([sys.executable, "-c", "import uni; print(uni.__file__)"],
                               env=dict(os.environ, PYTHONPATH=os.path.join(target, "lib")),
                               capture_output=True, text=True, cwd=target)
            self.assertEqual(r.stdout.strip(), os.path.join(target, "lib", "uni", "__init__.py"))


if __name__ == "__main__":
    unittest.main()
