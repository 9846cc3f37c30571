"""Paths of this build (set by ctest: UNI_BIN, UNI_MODULE_DIR) and the cluster harness."""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "conformance"))
sys.path.insert(0, os.path.join(HERE, "..", "..", "python"))

UNI = os.environ.get("UNI_BIN", os.path.join(HERE, "..", "..", "build", "bin", "uni"))
MODULES = os.environ.get("UNI_MODULE_DIR", os.path.join(HERE, "..", "..", "build", "modules"))


def module(name):
    return os.path.join(MODULES, "lib%s.so" % name)


def free_tcp_port():
    """A loopback port nobody listens on now (the kernel's pick)."""
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LineClient:
    """A TCP client of a line server (the echo example) on loopback."""

    def __init__(self, port, timeout=20.0):
        import socket
        import time
        deadline = time.monotonic() + timeout
        while True:  # the service may be reported running a moment before it listens
            try:
                self.socket = socket.create_connection(("127.0.0.1", port), timeout=timeout)
                break
            except ConnectionRefusedError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)
        self.reader = self.socket.makefile("r", encoding="utf-8", newline="\n")

    def ask(self, line):
        """Sends a line; its answer without the newline ("" if the server hung up)."""
        self.socket.sendall((line + "\n").encode())
        return self.reader.readline().rstrip("\n")

    def close(self):
        self.reader.close()
        self.socket.close()
