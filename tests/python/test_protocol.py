"""The Python client's encoders produce, byte for byte, the worked example of
docs/protocol.md §16 (SUBMIT, ACK, HELLO, HEARTBEAT), and decode its RESULT;
BECOME has the layout of §7.21."""

import unittest

import support  # noqa: F401  (sets sys.path)

from uni import _protocol as p

SESSION = 0x1F2E3D4C5B6A7988
HASH = bytes.fromhex("4c7177c03ddccb045f1c6c6b7812c25c67a10f0fe60f54cb64fbf0e098099bc9")


def from_doc(text):
    return bytes.fromhex(" ".join(text.split()))


class WorkedExample(unittest.TestCase):
    def test_submit(self):
        expected = from_doc("""
            93 05 01 91 9a cf 1f 2e 3d 4c 5b 6a 79 88 01 c4
            20 4c 71 77 c0 3d dc cb 04 5f 1c 6c 6b 78 12 c2
            5c 67 a1 0f 0f e6 0f 54 cb 64 fb f0 e0 98 09 9b
            c9 a9 66 61 63 74 6f 72 69 61 6c c4 02 91 14 00
            00 03 00 01""")
        record = [SESSION, 1, HASH, "factorial", p.pack([20]), 0, 0, 3, 0, 1]
        self.assertEqual(p.submit([record]), expected)

    def test_result_ack_hello_heartbeat(self):
        result = from_doc("""
            93 08 01 91 98 cf 1f 2e 3d 4c 5b 6a 79 88 01 00
            c4 09 cf 21 c3 67 7c 82 b4 00 00 a8 33 66 39 61
            30 63 31 32 a5 6e 6f 64 65 31 cd 10 92 01""")
        m = p.unpack(result)
        self.assertEqual(m[:2], [p.RESULT, 1])
        session, seq, status, payload, worker, host, pid, attempt = m[2][0]
        self.assertEqual((session, seq, status, worker, host, pid, attempt),
                         (SESSION, 1, p.OK, "3f9a0c12", "node1", 4242, 1))
        self.assertEqual(p.unpack(payload), 2432902008176640000)
        self.assertEqual(p.ids_message(p.ACK, [(SESSION, 1)]),
                         from_doc("93 09 01 92 cf 1f 2e 3d 4c 5b 6a 79 88 01"))
        self.assertEqual(p.hello(SESSION), from_doc(
            "94 01 01 a4 62 6f 73 73 81 a7 73 65 73 73 69 6f 6e cf 1f 2e 3d 4c 5b 6a 79 88"))
        self.assertEqual(p.heartbeat(), from_doc("92 04 01"))

    def test_become(self):
        expected = from_doc("""
            98 15 01 07 cf 1f 2e 3d 4c 5b 6a 79 88 01 c4 20
            4c 71 77 c0 3d dc cb 04 5f 1c 6c 6b 78 12 c2 5c
            67 a1 0f 0f e6 0f 54 cb 64 fb f0 e0 98 09 9b c9
            a6 73 65 72 76 65 72 cd 27 10""")
        # [BECOME, 1, request 7, session, seq 1, module, "server", timeout_ms 10000]
        self.assertEqual(p.become(7, SESSION, 1, HASH, "server", 10000), expected)
        self.assertEqual((p.SERVICE_STARTED, p.BECOME, p.BECOME_REPLY, p.FLAG_STARTED_EVENT),
                         (20, 21, 22, 8))

    def test_task_ids(self):
        self.assertEqual(p.task_id_text(SESSION, 1), "1f2e3d4c5b6a7988-1")
        self.assertEqual(p.parse_task_id("1f2e3d4c5b6a7988-1"), (SESSION, 1))
        with self.assertRaises(ValueError):
            p.parse_task_id("nope")


if __name__ == "__main__":
    unittest.main()


class Chunks(unittest.TestCase):
    """A message larger than a frame goes out as CHUNKs [25, 1, more, piece]
    (docs/protocol.md §4.1), laid out as the C++ peers lay them out."""

    def test_a_small_message_is_one_frame(self):
        body = p.heartbeat()
        self.assertEqual(p.frames(body), [body])
        self.assertEqual(p.frames(b"x" * p.MAX_FRAME_BYTES), [b"x" * p.MAX_FRAME_BYTES])

    def test_a_large_message_comes_back_whole_from_its_chunks(self):
        body = bytes(range(256)) * 1000  # 256,000 bytes
        frames = p.frames(body)
        self.assertEqual(len(frames), 4)
        pieces = []
        for i, frame in enumerate(frames):
            self.assertLessEqual(len(frame), p.MAX_FRAME_BYTES)
            kind, version, more, piece = p.unpack(frame)
            self.assertEqual((kind, version, more), (p.CHUNK, 1, i + 1 < len(frames)))
            pieces.append(piece)
        self.assertEqual(b"".join(pieces), body)
        # A full piece: fixarray 4, 25, 1, true, bin16 of 65,520 bytes.
        self.assertEqual(frames[0][:7], bytes.fromhex("94 19 01 c3 c5 ff f0"))


class HandshakeVerdicts(unittest.TestCase):
    """A refused key ends the connection at once; a handshake that dies late
    stalled (the manager is busy), and is not blamed on the key."""

    def watch(self):
        from uni._connection import _HandshakeWatch
        return _HandshakeWatch("tcp://127.0.0.1:1")

    def test_a_quick_failure_is_a_refused_key(self):
        import zmq
        from uni.errors import ConnectError
        w = self.watch()
        w.on_event(zmq.EVENT_CONNECTED, now=10.0)
        w.on_event(zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL, now=10.01)
        w.on_event(zmq.EVENT_DISCONNECTED, now=10.01)
        with self.assertRaises(ConnectError) as e:
            w.check(0.1, 5.0)
        self.assertIn("wrong authkey", str(e.exception))

    def test_a_late_failure_is_a_busy_manager(self):
        import zmq
        from uni.errors import ConnectError
        w = self.watch()
        w.on_event(zmq.EVENT_CONNECTED, now=10.0)
        w.on_event(zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL, now=13.0)
        w.on_event(zmq.EVENT_DISCONNECTED, now=13.0)
        w.check(3.1, 5.0)  # not given up yet, and not a key problem
        with self.assertRaises(ConnectError) as e:
            w.check(5.0, 5.0)
        self.assertIn("busy or overloaded", str(e.exception))
        self.assertNotIn("authkey", str(e.exception))
