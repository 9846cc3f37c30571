"""A real uni cluster for Python tests and benches: `uni manager` on an
ephemeral loopback port and N `uni worker` processes, in a private temp dir
(UNI_CONFIG_DIR, XDG_CACHE_HOME) with a random authkey. The manager can be
killed and restarted on the same address. Everything started is killed, by
process group, when the cluster is closed (also when a test fails). Also a
TCP line client, for the echo service."""

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time


class LocalCluster:
    """keys: client keys to make with `uni keygen` before the manager starts,
    as (NAME, ROLE) pairs. Given, the cluster is keyed: the manager admits only
    these (--clients), the harness's admin key `harness` (its own commands,
    through UNI_KEY) and worker key `harness-worker` (its workers)."""

    def __init__(self, uni, workers=2, slots=2, worker_args=(), manager_args=(), keys=()):
        self.uni = uni
        self.dir = tempfile.mkdtemp(prefix="uni-py-")
        self.authkey = secrets.token_hex(16)
        self.env = dict(os.environ)
        self.env.pop("UNI_CONNECT", None)
        self.env.update(UNI_CONFIG_DIR=os.path.join(self.dir, "config"),
                        XDG_CACHE_HOME=os.path.join(self.dir, "cache"),
                        UNI_AUTHKEY=self.authkey)
        self._manager_args = list(manager_args)
        self.keyed = bool(keys)
        if self.keyed:
            self._make_keys(keys)
        self._processes = []
        self._count = 0
        self.manager = None
        self.workers = []
        try:
            self.address = self._start_manager("tcp://127.0.0.1:0")
            for _ in range(workers):
                self.add_worker(slots, worker_args, wait=False)
            self.wait_for_workers(workers)
        except BaseException:
            self.close()
            raise

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def key_file(self, name):
        return os.path.join(self.dir, "keys", name + ".secret")

    def _make_keys(self, keys):
        lines = []
        for name, role in list(keys) + [("harness", "admin"), ("harness-worker", "worker")]:
            r = subprocess.run([self.uni, "keygen", "--role", role, "--out",
                                os.path.join(self.dir, "keys", name), "--authkey", self.authkey],
                               env=self.env, capture_output=True, text=True, timeout=30)
            if r.returncode != 0:
                raise RuntimeError("uni keygen failed: " + r.stderr)
            lines.append(r.stdout)
        clients = os.path.join(self.dir, "keys", "clients")
        with open(clients, "w") as f:
            f.write("".join(lines))
        self._manager_args += ["--clients", clients]
        self.env["UNI_KEY"] = self.key_file("harness")

    def apply_env(self):
        """Points this process at the cluster (the Python client reads these)."""
        for name in ("UNI_CONFIG_DIR", "XDG_CACHE_HOME", "UNI_AUTHKEY"):
            os.environ[name] = self.env[name]

    def _spawn(self, name, argv):
        self._count += 1
        stem = os.path.join(self.dir, "%s.%d" % (name, self._count))
        with open(stem + ".out", "wb") as out, open(stem + ".err", "wb") as err:
            process = subprocess.Popen(argv, env=self.env, stdout=out, stderr=err,
                                       stdin=subprocess.DEVNULL, start_new_session=True)
        process.log = stem
        self._processes.append(process)
        return process

    def _start_manager(self, listen):
        self.manager = self._spawn("manager", [self.uni, "manager", "--listen", listen]
                                   + self._manager_args)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with open(self.manager.log + ".out") as f:
                for line in f:
                    if line.startswith("listening on "):
                        return line.split()[2]
            if self.manager.poll() is not None:
                break
            time.sleep(0.02)
        raise RuntimeError("uni manager did not start:\n" + self.log(self.manager))

    def add_worker(self, slots=2, extra=(), wait=True):
        key = ["--key", self.key_file("harness-worker")] if self.keyed and "--key" not in extra else []
        worker = self._spawn("worker", [self.uni, "worker", "--connect", self.address,
                                        "--slots", str(slots)] + key + list(extra))
        self.workers.append(worker)
        if wait:
            self.wait_for_workers(len([w for w in self.workers if w.poll() is None]))
        return worker

    def status(self):
        r = subprocess.run([self.uni, "status", "--json", "--connect", self.address], env=self.env,
                           capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            raise RuntimeError("uni status failed: " + r.stderr)
        return json.loads(r.stdout)

    def time_cli_map(self, module, function, n):
        """Seconds `uni map MODULE FUNCTION` takes over n one-integer argument
        lines [0] .. [n-1]; raises if it fails or prints other than n lines."""
        lines = "".join("[%d]\n" % i for i in range(n))
        start = time.perf_counter()
        r = subprocess.run([self.uni, "map", "--connect", self.address, module, function],
                           input=lines, capture_output=True, text=True, env=self.env)
        elapsed = time.perf_counter() - start
        if r.returncode != 0 or r.stdout.count("\n") != n:
            raise RuntimeError("uni map failed: " + r.stderr)
        return elapsed

    def wait_for_workers(self, count, timeout=30):
        deadline = time.monotonic() + timeout
        while True:
            try:
                if len(self.status()["workers"]) == count:
                    return
            except RuntimeError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("%d workers did not join within %d s" % (count, timeout))
            time.sleep(0.1)

    def kill_manager(self):
        _kill_group(self.manager)

    def restart_manager(self):
        """A new manager on the same address (the old one must be dead)."""
        self._start_manager(self.address)

    def log(self, process):
        text = []
        for ext in (".out", ".err"):
            try:
                with open(process.log + ext, errors="replace") as f:
                    text.append(f.read()[-4000:])
            except OSError:
                pass
        return "\n".join(text)

    def close(self):
        for process in self._processes:
            _kill_group(process)
        self._processes = []
        shutil.rmtree(self.dir, ignore_errors=True)


def _kill_group(process):
    if process is None or process.returncode is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()


def free_tcp_port():
    """A loopback port nobody listens on now (the kernel's pick)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LineClient:
    """A TCP client of a line server (the echo example) on loopback."""

    def __init__(self, port, timeout=20.0):
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
