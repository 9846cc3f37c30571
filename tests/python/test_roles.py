"""The Python client with a key of its own (uni.connect(key=...)) against a
manager started with --clients: it connects as that key, with its role; what
the role may not do is refused with the manager's words (a TaskError of kind
"refused" for a submission, uni.RefusedError otherwise); a key file others
may read is refused before anything is sent (docs/security.md)."""

import os
import unittest

from support import UNI, module

import uni
from harness import LocalCluster


class Roles(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.local = LocalCluster(UNI, workers=1, slots=2,
                                 keys=[("alice", "boss"), ("bob", "boss"), ("ops", "observer")])

    @classmethod
    def tearDownClass(cls):
        cls.local.close()

    def connect(self, name):
        return uni.connect(self.local.address, key=self.local.key_file(name))

    def test_a_boss_key_runs_tasks_and_only_its_owner_cancels_them(self):
        with self.connect("alice") as alice, self.connect("bob") as bob:
            t = alice.module(module("testfns"))
            self.assertEqual(t.add(20, 22), 42)
            slow = t.sleep_ms.submit(1500)
            with self.assertRaisesRegex(uni.RefusedError,
                                        "refused: key 'bob' \\(role boss\\) may not cancel or "
                                        "stop %s: it belongs to another key" % slow.id):
                bob.stop(slow.id)
            self.assertEqual(slow.result(30), 1500)

    def test_an_observer_reads_the_status_and_may_not_submit(self):
        with self.connect("ops") as ops:
            self.assertEqual(len(ops.status()["workers"]), 1)
            with self.assertRaises(uni.TaskError) as e:
                ops.module(module("testfns")).add(1, 2)
            self.assertEqual(e.exception.kind, "refused")
            self.assertEqual(e.exception.message,
                             "refused: key 'ops' has role observer, which may not submit")

    def test_a_key_file_others_may_read_is_refused(self):
        path = self.local.key_file("bob")
        os.chmod(path, 0o644)
        try:
            with self.assertRaisesRegex(uni.Error, "may be read by others than its owner"):
                self.connect("bob")
        finally:
            os.chmod(path, 0o600)


if __name__ == "__main__":
    unittest.main()
