"""Services from Python against a real cluster: the worker's report that a
service runs arrives as an event (SERVICE_STARTED, docs/protocol.md §7.20),
and cluster.become turns a running service into new code (BECOME, §7.21)
while a real TCP client stays connected to it (the echo example, v1 and v2);
every refusal raises BecomeError with the cluster's reason and leaves the
service as it was; a become whose connection drops fails at once, saying
that its outcome is unknown."""

import threading
import time
import unittest

from support import UNI, module

import uni
from harness import LineClient, LocalCluster, free_tcp_port


def service_status(cluster, service_id):
    for s in cluster.status()["services"]:
        if s["id"] == service_id:
            return s
    return None


class Started(unittest.TestCase):
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

    def test_a_service_that_starts_is_reported_running(self):
        service = self.cluster.spawn(self.t.sleep_ms, 60000)
        try:
            self.assertTrue(service.wait_started(60))
            self.assertTrue(service.started())
            self.assertFalse(service.done())
            self.assertTrue(service_status(self.cluster, service.id)["started"])
        finally:
            service.stop()
        with self.assertRaises(uni.TaskError) as e:
            service.result(30)
        self.assertEqual(e.exception.kind, "cancelled")

    def test_a_service_that_fails_at_once_ends_the_wait(self):
        service = self.cluster.spawn(self.t.sleep_ms, -1)  # throws as it starts
        self.assertFalse(service.wait_started(600))  # returns when it ends, not at the limit
        self.assertTrue(service.done())
        self.assertFalse(service.started())
        with self.assertRaisesRegex(uni.TaskError, "negative duration -1") as e:
            service.result(0)
        self.assertEqual(e.exception.kind, "exception")

    def test_a_service_with_no_worker_is_not_started_at_the_timeout(self):
        # Both slots held: a third service waits in the queue.
        holders = [self.cluster.spawn(self.t.sleep_ms, 60000) for _ in range(2)]
        try:
            for h in holders:
                self.assertTrue(h.wait_started(60))
            queued = self.cluster.spawn(self.t.sleep_ms, 60000)
            self.assertFalse(queued.wait_started(0.3))
            self.assertFalse(queued.done())
            holders[0].stop()
            self.assertTrue(queued.wait_started(60))  # the freed slot takes it
            queued.stop()
        finally:
            for h in holders:
                h.stop()


class Become(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.local = LocalCluster(UNI, workers=1, slots=3)
        cls.local.apply_env()
        cls.cluster = uni.connect(cls.local.address)
        cls.echo = cls.cluster.module(module("echo"))
        cls.v2_path = module("echo_v2")

    @classmethod
    def tearDownClass(cls):
        cls.cluster.close()
        cls.local.close()

    def spawn_echo(self):
        port = free_tcp_port()
        service = self.cluster.spawn(self.echo.server, port)
        self.addCleanup(service.stop)
        self.assertTrue(service.wait_started(60), "echo v1 did not start")
        client = LineClient(port)
        self.addCleanup(client.close)
        return service, port, client

    def test_become_keeps_a_connected_client_and_changes_its_replies(self):
        # Nothing else in this class submits echo v2: the manager gets it
        # through the become's NEED_MODULE.
        service, port, client = self.spawn_echo()
        self.assertEqual(client.ask("hello"), "hello")
        self.assertEqual(client.ask("second line"), "second line")
        v1_module = service_status(self.cluster, service.id)["module"]

        result = self.cluster.become(service.id, self.v2_path, "server")
        self.assertIsInstance(result, uni.BecomeResult)
        self.assertEqual(result.becomes, 1)
        self.assertGreater(result.handover, 0)

        self.assertEqual(client.ask("world"), "3 WORLD")  # v2, on the same connection
        other = LineClient(port)
        self.addCleanup(other.close)
        self.assertEqual(other.ask("new client"), "4 NEW CLIENT")
        status = service_status(self.cluster, service.id)
        self.assertEqual(status["module"], uni.ModuleFile(self.v2_path).hex)
        self.assertNotEqual(status["module"], v1_module)
        self.assertEqual((status["becomes"], status["state"]), (1, "running"))

        # And back, naming the function (and the Service) directly.
        self.assertEqual(service.become(self.echo.server).becomes, 2)
        self.assertEqual(client.ask("v1 again"), "v1 again")
        self.assertFalse(service.done())

    def test_a_refused_become_leaves_v1_serving_the_same_connection(self):
        service, port, client = self.spawn_echo()
        self.assertEqual(client.ask("one"), "one")
        faults = module("become_faults")
        cases = [
            (self.v2_path, "no_such_function", "unknown function 'no_such_function'"),
            (faults, "wrong_state", "state: expected string"),
            (faults, "no_context", "takes no uni::ServiceContext&"),
        ]
        for path, function, reason in cases:
            with self.subTest(function=function):
                with self.assertRaises(uni.BecomeError) as e:
                    self.cluster.become(service, path, function)
                self.assertIn(reason, e.exception.reason)
                self.assertEqual((e.exception.service, e.exception.function),
                                 (service.id, function))
                self.assertTrue(str(e.exception).startswith(
                    "service %s did not become %s: " % (service.id, function)), str(e.exception))
                self.assertEqual(client.ask("still v1"), "still v1")
        status = service_status(self.cluster, service.id)
        self.assertEqual((status["becomes"], status["function"]), (0, "server"))
        # A good become still works, counting every line v1 answered.
        self.cluster.become(service, self.v2_path, "server")
        self.assertEqual(client.ask("finally"), "5 FINALLY")

    def test_become_of_what_is_not_a_running_service_is_refused(self):
        t = self.cluster.module(module("testfns"))
        task = t.sleep_ms.submit(60000)  # a task, not a service
        plain = self.cluster.spawn(t.sleep_ms, 60000)  # a service without a context
        self.addCleanup(plain.stop)
        self.addCleanup(task.cancel)
        self.assertTrue(plain.wait_started(60))
        cases = [
            ("0123456789abcdef-1", "no service 0123456789abcdef-1 is running"),
            (task.id, "no service %s is running" % task.id),
            (plain.id, "does not take a uni::ServiceContext&"),
        ]
        for service_id, reason in cases:
            with self.subTest(service=service_id):
                with self.assertRaises(uni.BecomeError) as e:
                    self.cluster.become(service_id, self.v2_path, "server")
                self.assertIn(reason, e.exception.reason)
        self.assertFalse(task.done())
        self.assertFalse(plain.done())
        with self.assertRaisesRegex(ValueError, "'nonsense' is not a service id"):
            self.cluster.become("nonsense", self.v2_path, "server")
        with self.assertRaises(ValueError):
            self.cluster.become(plain, self.v2_path, "server", timeout=0)
        with self.assertRaises(uni.ModuleError):
            self.cluster.become(plain, module("no_such_module"), "server")

    def test_a_service_that_does_not_hand_over_in_time_runs_on(self):
        deaf = self.cluster.spawn(self.cluster.module(module("become_faults")).deaf, 60000)
        self.addCleanup(deaf.stop)
        self.assertTrue(deaf.wait_started(60))
        with self.assertRaisesRegex(uni.BecomeError, "did not hand over within 0.5 s"):
            deaf.become(self.v2_path, "server", timeout=0.5)
        status = service_status(self.cluster, deaf.id)
        self.assertEqual((status["state"], status["becomes"], status["function"]),
                         ("running", 0, "deaf"))


class BecomeLost(unittest.TestCase):
    def test_a_become_whose_connection_drops_fails_saying_the_outcome_is_unknown(self):
        with LocalCluster(UNI, workers=1, slots=1) as local:
            local.apply_env()
            with uni.connect(local.address) as cluster:
                deaf = cluster.spawn(cluster.module(module("become_faults")).deaf, 60000)
                self.assertTrue(deaf.wait_started(60))
                outcome = []

                def become():
                    try:
                        deaf.become(module("echo_v2"), "server", timeout=60)
                    except uni.Error as e:
                        outcome.append(e)
                asking = threading.Thread(target=become)
                asking.start()
                # The request is with the worker (which waits for the hand-over)
                # once the manager has the module.
                wait_until(lambda: local.status()["totals"]["module_uploads"] >= 2)
                local.kill_manager()
                asking.join(60)
                self.assertFalse(asking.is_alive())
                self.assertIsInstance(outcome[0], uni.ConnectError)
                self.assertIn("the connection to the manager was lost", str(outcome[0]))
                self.assertIn("whether the service took on the new code is unknown",
                              str(outcome[0]))


def wait_until(predicate, timeout=30):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("the condition did not hold within %d s" % timeout)
        time.sleep(0.05)


if __name__ == "__main__":
    unittest.main()
