"""The Python client against a manager of an older release, one that predates
CHUNK (messages larger than a frame sent in pieces): such a manager answers
each piece "malformed message: unknown message type", so a module larger than
a frame never reaches it. The client must fail the tasks that need it, saying
why, instead of letting them wait for ever. No older uni binary is at hand, so
the peer here speaks the older manager's side of the protocol on a real
CURVE socket: HELLO, SUBMIT (asking for the module), PUT_MODULE, and its
answer to a message type it does not know."""

import os
import shutil
import tempfile
import threading
import time
import unittest

import zmq

from support import module

import uni
from uni import _protocol as p
from uni._keys import derive_curve_keys

UNKNOWN_TYPE = "malformed message: unknown message type"  # the older manager's words


class OlderManager:
    """A ROUTER on loopback that answers as a manager that knows message
    types 1 to 24 only; counts the pieces it refused."""

    def __init__(self, keys):
        self._context = zmq.Context(1)
        self._socket = self._context.socket(zmq.ROUTER)
        self._socket.curve_server = True
        self._socket.curve_secretkey = keys.server_secret
        self._socket.linger = 0
        port = self._socket.bind_to_random_port("tcp://127.0.0.1")
        self.address = "tcp://127.0.0.1:%d" % port
        self.refused_pieces = 0
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        poller = zmq.Poller()
        poller.register(self._socket, zmq.POLLIN)
        while not self._stop:
            if not poller.poll(50):
                continue
            peer, frame = self._socket.recv_multipart()
            m = p.unpack(frame)
            kind = m[0]
            if kind == p.HELLO:
                reply = [p.WELCOME, p.VERSION, {"manager_id": "older", "version": "0.1.0",
                                                "heartbeat_ms": 1000, "max_message": 128 << 20,
                                                "max_module": 256 << 20}]
            elif kind == p.SUBMIT:
                reply = [p.NEED_MODULE, p.VERSION, m[2][0][2]]
            elif kind == p.HEARTBEAT:
                reply = [p.HEARTBEAT, p.VERSION]
            elif kind > 24:
                self.refused_pieces += 1
                reply = [p.ERROR, p.VERSION, "malformed", UNKNOWN_TYPE]
            else:
                continue
            self._socket.send_multipart([peer, p.pack(reply)])

    def close(self):
        self._stop = True
        self._thread.join()
        self._socket.close()
        self._context.term()


class AManagerOlderThanChunk(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="uni-py-older-")
        self.addCleanup(shutil.rmtree, self.dir, ignore_errors=True)
        saved = os.environ.get("UNI_CONFIG_DIR")
        os.environ["UNI_CONFIG_DIR"] = self.dir  # the derived keys' cache
        self.addCleanup(lambda: os.environ.__setitem__("UNI_CONFIG_DIR", saved) if saved
                        else os.environ.pop("UNI_CONFIG_DIR", None))
        self.authkey = "older-manager-test"
        self.manager = OlderManager(derive_curve_keys(self.authkey.encode()))
        self.addCleanup(self.manager.close)

    def test_fails_the_tasks_of_a_module_it_cannot_read_saying_why(self):
        path = module("testfns")
        self.assertGreater(os.path.getsize(path), p.MAX_FRAME_BYTES)  # it goes in pieces
        with uni.connect(self.manager.address, authkey=self.authkey) as cluster:
            testfns = cluster.module(path)
            start = time.monotonic()
            with self.assertRaises(uni.TaskError) as caught:
                testfns.ident.submit(5).result(20)
            self.assertEqual(caught.exception.kind, "rejected")
            self.assertIn("does not read messages larger than 64 KiB", caught.exception.message)
            self.assertIn("older than this client", caught.exception.message)
            self.assertLess(time.monotonic() - start, 20)
            # The next task of that module fails at once, without pieces sent again:
            # the manager saw those of one upload.
            with self.assertRaises(uni.TaskError) as caught:
                testfns.ident.submit(6).result(20)
            self.assertIn("older than this client", caught.exception.message)
            f = testfns._file
            pieces = len(p.frames(p.put_module(f.hash, f.platform, f.data)))
            deadline = time.monotonic() + 10
            while self.manager.refused_pieces < pieces and time.monotonic() < deadline:
                time.sleep(0.02)
            time.sleep(0.2)  # room for a second upload, were there one
            self.assertEqual(self.manager.refused_pieces, pieces)


if __name__ == "__main__":
    unittest.main()
