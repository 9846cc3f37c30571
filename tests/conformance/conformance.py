"""The conformance suite: the same cases, run against a real manager and real
workers, through the Python client (uni, in this process) or through the C++
client (conformance_boss, driven over stdin/stdout). Both must pass.

    /usr/bin/python3 conformance.py --client python|cpp --uni BIN/uni \
        --module MODULES/libconformance.so --driver BIN/conformance_boss

Cases: types round-trip (docs/protocol.md §8.4), errors (exception, bad
arguments in the worker's words, unknown function, crash), cancel, timeouts
and wait limits, services, become (the echo example's v1 -> v2 with a TCP
client connected, and refusals in the cluster's words), map order, status,
two clients at once with no crossed results, and a manager restart in the
middle of a map losing nothing.
"""

import argparse
import concurrent.futures
import json
import os
import subprocess
import sys
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "python"))

import uni  # noqa: E402
from harness import LineClient, LocalCluster, free_tcp_port  # noqa: E402

ARGS = None  # the command line, set in main()


def normalize(value):
    """One shape for both clients: bytes as lists of byte values, tuples as lists."""
    if isinstance(value, (bytes, bytearray)):
        return list(value)
    if isinstance(value, (list, tuple)):
        return [normalize(v) for v in value]
    if isinstance(value, dict):
        return {k: normalize(v) for k, v in value.items()}
    return value


# ---- the two clients behind one interface ----------------------------------------------

class PythonClient:
    name = "python"

    def __init__(self, cluster):
        cluster.apply_env()
        self.cluster = uni.connect(cluster.address)

    def _function(self, fn, module, options):
        return self.cluster.module(module or ARGS.module).function(fn).options(**options)

    @staticmethod
    def _outcome(get):
        try:
            return {"ok": normalize(get())}
        except concurrent.futures.CancelledError:
            return {"error": {"kind": "cancelled", "message": "cancelled", "worker": ""}}
        except uni.TaskError as e:
            return {"error": {"kind": e.kind, "message": e.message,
                              "worker": e.worker.id if e.worker else ""}}

    def call(self, fn, args, module=None, as_=None, **options):
        return self._outcome(lambda: self._function(fn, module, options)(*args))

    def submit(self, fn, args, module=None, **options):
        return self._function(fn, module, options).submit(*args)

    def result(self, handle):
        return self._outcome(lambda: handle.result(60))

    def cancel(self, handle):
        handle.cancel()

    def map(self, fn, inputs, module=None, **options):
        out = []
        results = self.cluster.map(self._function(fn, module, options), *zip(*inputs))
        while len(out) < len(inputs):
            outcome = self._outcome(lambda: next(results))
            out.append(outcome)
            if "error" in outcome:
                break  # Python's map raises at the first failure, like Executor.map
        return out

    def spawn(self, fn, args, module=None):
        service = self.cluster.spawn(self._function(fn, module, {}), *args)
        return service, service.id

    def stop(self, handle):
        handle[0].stop()

    def service_result(self, handle):
        return self._outcome(lambda: handle[0].result(60))

    def become(self, service_id, module, fn, timeout=10.0):
        try:
            return {"ok": {"becomes": self.cluster.become(service_id, module, fn,
                                                          timeout).becomes}}
        except uni.BecomeError as e:
            return {"error": {"kind": "become", "message": str(e)}}

    def status(self):
        return self.cluster.status()

    def close(self):
        self.cluster.close()


class CppClient:
    name = "cpp"

    def __init__(self, cluster):
        self.process = subprocess.Popen([ARGS.driver, cluster.address], env=cluster.env,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        text=True, bufsize=1)
        self.lock = threading.Lock()
        ready = json.loads(self.process.stdout.readline() or '{"fatal": "no reply"}')
        if not ready.get("ready"):
            raise RuntimeError("conformance_boss: %s" % ready)

    def command(self, **cmd):
        with self.lock:
            self.process.stdin.write(json.dumps(cmd) + "\n")
            self.process.stdin.flush()
            line = self.process.stdout.readline()
        reply = json.loads(line or '{"fatal": "conformance_boss ended"}')
        if "fatal" in reply:
            raise RuntimeError("conformance_boss: %s" % reply["fatal"])
        return reply

    @staticmethod
    def _cmd(op, fn, args, module, options, as_=None):
        cmd = dict(op=op, fn=fn, args=[normalize(a) for a in args], module=module or ARGS.module)
        if as_:
            cmd["as"] = as_
        cmd.update(options)
        return cmd

    def call(self, fn, args, module=None, as_=None, **options):
        return self.command(**self._cmd("call", fn, args, module, options, as_))

    def submit(self, fn, args, module=None, **options):
        return self.command(**self._cmd("submit", fn, args, module, options))["handle"]

    def result(self, handle):
        return self.command(op="result", handle=handle)

    def cancel(self, handle):
        self.command(op="cancel", handle=handle)

    def map(self, fn, inputs, module=None, **options):
        cmd = dict(op="map", fn=fn, inputs=normalize(inputs), module=module or ARGS.module)
        cmd.update(options)
        return self.command(**cmd)["results"]

    def spawn(self, fn, args, module=None):
        reply = self.command(**self._cmd("spawn", fn, args, module, {}))
        return reply["handle"], reply["id"]

    def stop(self, handle):
        self.command(op="stop", handle=handle[0])

    def service_result(self, handle):
        return self.command(op="result", handle=handle[0])

    def become(self, service_id, module, fn, timeout=10.0):
        return self.command(op="become", id=service_id, module=module, fn=fn, timeout=timeout)

    def status(self):
        return self.command(op="status")["status"]

    def close(self):
        self.process.stdin.close()
        self.process.wait(30)


def make_client(cluster):
    return (PythonClient if ARGS.client == "python" else CppClient)(cluster)


def wait_until(predicate, timeout=20, what="the condition"):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("%s did not hold within %d s" % (what, timeout))
        time.sleep(0.05)


# ---- the cases -------------------------------------------------------------------------

ROUND_TRIPS = [
    ("echo_bool", True), ("echo_bool", False),
    ("echo_i8", -128), ("echo_i8", 127), ("echo_u8", 0), ("echo_u8", 255),
    ("echo_i16", -32768), ("echo_u16", 65535),
    ("echo_i32", -2**31), ("echo_i32", 2**31 - 1), ("echo_u32", 2**32 - 1),
    ("echo_i64", -2**63), ("echo_i64", 2**63 - 1), ("echo_u64", 2**64 - 1), ("echo_u64", 0),
    ("echo_f32", 1.5), ("echo_f32", -0.25), ("echo_f64", 0.1), ("echo_f64", -1e300),
    ("echo_f64", 2.0),
    ("echo_string", ""), ("echo_string", "h\u00e9llo \u2603"), ("echo_string", "x" * 10000),
    ("echo_bytes", bytes(range(256))), ("echo_bytes", b""),
    ("echo_vector", [1, -2, 3]), ("echo_vector", []),
    ("echo_nested", [["a"], [], ["b", "c"]]),
    ("echo_array", [1, 2, 3]),
    ("echo_map", {"a": 1.5, "b": -2.0}), ("echo_map", {}),
    ("echo_optional", None), ("echo_optional", 7),
    ("echo_tuple", [1, "x", True]), ("echo_pair", ["k", 3]),
    ("echo_point", [1, 2, "p"]), ("echo_labelled", {"x": 1, "y": 2, "label": "l"}),
]

SIGNATURE_ADD = "int add(int, int)"


class Conformance(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cluster = LocalCluster(ARGS.uni, workers=2, slots=2)
        cls.client = make_client(cls.cluster)

    @classmethod
    def tearDownClass(cls):
        cls.client.close()
        cls.cluster.close()

    def test_types_round_trip(self):
        for fn, value in ROUND_TRIPS:
            with self.subTest(fn=fn, value=repr(value)[:40]):
                self.assertEqual(self.client.call(fn, [value]), {"ok": normalize(value)})

    def test_integers_for_floats_travel_as_floats_and_void_is_null(self):
        outcome = self.client.call("echo_f64", [2])
        self.assertEqual(outcome, {"ok": 2.0})
        self.assertIs(type(outcome["ok"]), float)
        self.assertEqual(self.client.call("nothing", [5]), {"ok": None})

    def test_exception_carries_its_message_and_worker(self):
        outcome = self.client.call("fail", ["why"])
        self.assertEqual(outcome["error"]["kind"], "exception")
        self.assertEqual(outcome["error"]["message"], "boom: why")
        workers = [w["id"] for w in self.cluster.status()["workers"]]
        self.assertIn(outcome["error"]["worker"], workers)

    def test_bad_arguments_are_reported_in_the_workers_words(self):
        outcome = self.client.call("add", [1, "x"], as_="add(int,string)")
        self.assertEqual(outcome["error"]["kind"], "bad-arguments")
        self.assertEqual(outcome["error"]["message"], "add: argument 2: expected integer, got "
                         "string (signature: %s)" % SIGNATURE_ADD)
        outcome = self.client.call("add", [1], as_="add(int)")
        self.assertEqual(outcome["error"]["message"], "add: expected 2 arguments, got 1 "
                         "(signature: %s)" % SIGNATURE_ADD)

    def test_argument_errors_inside_values_use_the_same_words(self):
        cases = [
            ("echo_i8", [300], "echo_i8(int)",
             "echo_i8: argument 1: expected integer that fits signed char, got 300 "
             "(signature: signed char echo_i8(signed char))"),
            ("echo_vector", [["1", "2"]], "echo_vector(vector<string>)",
             "echo_vector: argument 1: element 1: expected integer, got string "
             "(signature: std::vector<long> echo_vector(std::vector<long>))"),
            ("echo_map", [{"a": "x"}], "echo_map(map<string,string>)",
             "echo_map: argument 1: value 1: expected number, got string (signature: "
             "std::map<std::string, double> echo_map(std::map<std::string, double>))"),
        ]
        for fn, args, as_, message in cases:
            with self.subTest(fn=fn):
                outcome = self.client.call(fn, args, as_=as_)
                self.assertEqual(outcome["error"]["kind"], "bad-arguments")
                self.assertEqual(outcome["error"]["message"], message)

    def test_unknown_function(self):
        try:
            outcome = self.client.call("no_such_function", [1], as_="no_such_function(int)")
        except uni.UnknownFunctionError as e:  # the Python client knows before sending
            outcome = {"error": {"kind": e.kind, "message": e.message}}
        self.assertEqual(outcome["error"]["kind"], "unknown-function")
        message = outcome["error"]["message"]
        self.assertTrue(message.startswith("unknown function 'no_such_function': the module "
                                           "exports "), message)
        for name in ("echo_bool", "add", "sleep_ms", "echo_labelled"):
            self.assertIn(name, message)

    def test_a_crash_fails_the_task_and_the_cluster_serves_on(self):
        outcome = self.client.call("crash", [1], max_attempts=1)
        self.assertEqual(outcome["error"]["kind"], "crashed")
        self.assertEqual(self.client.call("add", [1, 2]), {"ok": 3})

    def test_timeout(self):
        outcome = self.client.call("sleep_ms", [20000], timeout=0.3)
        self.assertEqual(outcome["error"]["kind"], "timed-out")

    def test_wait_limit_with_no_worker_for_the_platform(self):
        # The same module, tagged for a platform no worker has.
        module = uni.ModuleFile(ARGS.module)
        tag = module.platform.encode() + b"\0"
        path = os.path.join(self.cluster.dir, "libelsewhere.so")
        with open(path, "wb") as f:
            f.write(module.data.replace(tag, tag.replace(b"-linux-", b"-lunix-")))
        outcome = self.client.call("add", [1, 2], module=path, wait=0.5)
        self.assertEqual(outcome["error"]["kind"], "no-worker")
        self.assertIn("took it within 0.5 s", outcome["error"]["message"])

    def test_cancel_stops_a_running_task(self):
        handle = self.client.submit("sleep_ms", [60000])
        wait_until(lambda: self.client.status()["running"] >= 1, what="the task running")
        self.client.cancel(handle)
        self.assertEqual(self.client.result(handle)["error"]["kind"], "cancelled")
        wait_until(lambda: self.client.status()["running"] == 0, what="its slot freed")
        self.assertEqual(self.client.call("add", [2, 2]), {"ok": 4})

    def test_services_spawn_and_stop(self):
        handle = self.client.spawn("sleep_ms", [60000])
        service_id = handle[1]
        wait_until(lambda: any(s["id"] == service_id for s in self.client.status()["services"]),
                   what="the service listed")
        self.client.stop(handle)
        self.assertEqual(self.client.service_result(handle)["error"]["kind"], "cancelled")
        wait_until(lambda: not self.client.status()["services"], what="the service gone")

    def test_become_keeps_the_client_and_refusals_say_why(self):
        echo = os.path.join(os.path.dirname(ARGS.module), "libecho.so")
        echo_v2 = os.path.join(os.path.dirname(ARGS.module), "libecho_v2.so")
        port = free_tcp_port()
        handle = self.client.spawn("server", [port], module=echo)
        service_id = handle[1]

        def service():
            for s in self.client.status()["services"]:
                if s["id"] == service_id:
                    return s
            return {}
        wait_until(lambda: service().get("started"), what="echo v1 running")
        line = LineClient(port)
        try:
            self.assertEqual(line.ask("hello"), "hello")
            self.assertEqual(self.client.become(service_id, echo_v2, "server"),
                             {"ok": {"becomes": 1}})
            self.assertEqual(line.ask("world"), "2 WORLD")  # v2, the same connection
            self.assertEqual(service()["module"], uni.ModuleFile(echo_v2).hex)

            outcome = self.client.become(service_id, echo_v2, "no_such_function")
            prefix = ("service %s did not become no_such_function: unknown function "
                      "'no_such_function'" % service_id)
            self.assertTrue(outcome["error"]["message"].startswith(prefix), outcome)
            self.assertEqual(line.ask("still v2"), "3 STILL V2")

            outcome = self.client.become("0123456789abcdef-1", echo, "server")
            self.assertEqual(outcome["error"]["message"], "service 0123456789abcdef-1 did not "
                             "become server: no service 0123456789abcdef-1 is running (uni "
                             "status lists the services)")
            self.assertEqual(service()["becomes"], 1)
        finally:
            line.close()
            self.client.stop(handle)
        self.assertEqual(self.client.service_result(handle)["error"]["kind"], "cancelled")

    def test_map_keeps_input_order(self):
        inputs = [[i] for i in range(500)]
        self.assertEqual(self.client.map("ident", inputs), [{"ok": i} for i in range(500)])
        pairs = [[i, 2 * i] for i in range(100)]
        self.assertEqual(self.client.map("add", pairs), [{"ok": 3 * i} for i in range(100)])

    def test_map_stops_at_a_failure_in_order(self):
        outcomes = self.client.map("add", [[1, 1], [2, 2], [3, 3]], timeout=10)
        self.assertEqual(outcomes, [{"ok": 2}, {"ok": 4}, {"ok": 6}])
        outcomes = self.client.map("fail", [["a"], ["b"]])
        self.assertEqual(outcomes[0]["error"]["message"], "boom: a")

    def test_status(self):
        status = self.client.status()
        self.assertEqual(len(status["workers"]), 2)
        for w in status["workers"]:
            self.assertEqual(w["slots"], 2)
            self.assertTrue(w["id"] and w["host"] and w["pid"] > 0)

    def test_two_clients_at_once_get_only_their_own_results(self):
        clients = [make_client(self.cluster) for _ in range(2)]
        outcomes = [None, None]
        bases = [0, 10**9]

        def run(i):
            outcomes[i] = clients[i].map("ident", [[bases[i] + k] for k in range(3000)])
        threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        for c in clients:
            c.close()
        for i in range(2):
            self.assertEqual(outcomes[i], [{"ok": bases[i] + k} for k in range(3000)])


class ManagerRestart(unittest.TestCase):
    def test_a_manager_restart_in_the_middle_of_a_map_loses_nothing(self):
        with LocalCluster(ARGS.uni, workers=2, slots=2) as cluster:
            client = make_client(cluster)
            try:
                inputs = [[10 + i % 7] for i in range(400)]  # about 1.3 s of work on 4 slots
                outcome = []
                mapper = threading.Thread(
                    target=lambda: outcome.append(client.map("sleep_ms", inputs)))
                mapper.start()
                wait_until(lambda: cluster.status()["totals"]["completed"] >= 20,
                           what="the map under way")
                cluster.kill_manager()
                time.sleep(0.3)
                cluster.restart_manager()
                mapper.join(120)
                self.assertFalse(mapper.is_alive(), "the map did not finish after the restart")
                self.assertEqual(outcome[0], [{"ok": i[0]} for i in inputs])
            finally:
                client.close()


def main():
    global ARGS
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--client", choices=("python", "cpp"), required=True)
    parser.add_argument("--uni", required=True)
    parser.add_argument("--module", required=True)
    parser.add_argument("--driver", required=True)
    ARGS, rest = parser.parse_known_args()
    unittest.main(argv=[sys.argv[0], "-v"] + rest)


if __name__ == "__main__":
    main()
