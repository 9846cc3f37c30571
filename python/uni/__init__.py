"""uni: call C++ functions on a uni cluster from Python.

    import uni
    with uni.connect("tcp://127.0.0.1:7070") as cluster:     # authkey as the CLI finds it
        fact = cluster.module("build/modules/libfactorial.so")  # functions from the module file
        print(fact.factorial(20))                    # blocking call
        fut = fact.factorial.submit(10)              # a concurrent.futures.Future
        print(list(cluster.map(fact.factorial, range(1, 10))))
        echo = cluster.module("build/modules/libecho.so")
        service = cluster.spawn(echo.server, 5001)  # a service; wait_started(), stop()
        service.wait_started(10)
        cluster.become(service, "build/modules/libecho_v2.so", "server")  # new code, same clients

Arguments are checked against the function's signature (recorded in the
module at compile time) before anything is sent; a failed task raises
uni.TaskError carrying the error kind, message and worker. Speaks the wire
protocol of docs/protocol.md with pyzmq, msgpack and PyNaCl only.
"""

import os

from ._cluster import BecomeResult, Cluster, Executor, Future, Module, RemoteFunction, Service
from ._connection import Connection
from ._keys import (default_authkey_path, derive_curve_keys, find_authkey, find_key_file,
                    read_client_key)
from ._module_file import ModuleFile
from .errors import (ArgumentError, BecomeError, ConnectError, Error, ModuleError, RefusedError,
                     TaskError, UnknownFunctionError, WorkerInfo)

__version__ = "0.1.0"

__all__ = ["connect", "Cluster", "Executor", "Future", "Module", "RemoteFunction", "Service",
           "BecomeResult", "ModuleFile", "Error", "ConnectError", "RefusedError", "ModuleError",
           "TaskError",
           "ArgumentError", "UnknownFunctionError", "BecomeError", "WorkerInfo"]


def connect(address=None, *, key=None, authkey=None, authkey_file=None, connect_timeout=5.0,
            on_notice=None, max_outstanding=1_000_000):
    """Connects to the manager at `address` ("tcp://host:port" or "host:port";
    None: $UNI_CONNECT, else tcp://127.0.0.1:7070) and returns a Cluster.

    `key`: a client key file written by `uni keygen` (NAME.secret), for a
    manager started with --clients: the client connects as that key, with its
    role (docs/security.md); a file others may read is refused. Without it,
    the authkey is found as the uni CLI finds it: `authkey`, else the file
    `authkey_file`, else a key file in $UNI_KEY, else $UNI_AUTHKEY, else the
    key file `uni manager` creates (~/.config/uni/authkey). Raises
    ConnectError (reason "unreachable", "auth-failed" or "refused") within
    connect_timeout seconds; "refused" at once for a nats:// address, which
    this client does not support yet.

    on_notice(text): messages from the manager, e.g. that tasks wait for a
    worker that is not there (default: printed to stderr). max_outstanding:
    a submission beyond this many unfinished tasks blocks until one finishes.
    """
    address = address or os.environ.get("UNI_CONNECT") or "tcp://127.0.0.1:7070"
    scheme = address.split("://", 1)[0] if "://" in address else "tcp"
    if scheme in ("nats", "tls"):
        raise ConnectError("refused", "%s: the Python client does not support NATS yet; it talks "
                           "to the built-in manager only (tcp://HOST:PORT). On NATS use the "
                           "uni CLI or the C++ API" % address)
    if scheme != "tcp":
        raise ConnectError("refused", "%s: unknown scheme %s://; the Python client takes "
                           "tcp://HOST:PORT or HOST:PORT" % (address, scheme))
    if key and (authkey or authkey_file):
        raise Error("give a key file or an authkey, not both")
    key_file = None if (authkey or authkey_file) else find_key_file(key)
    if key_file:
        try:
            keys = read_client_key(key_file)
        except (OSError, ValueError) as e:
            raise Error(str(e)) from None  # a local problem, not the cluster's
        return Cluster(Connection(address, keys, connect_timeout, on_notice, max_outstanding))
    try:
        secret = find_authkey(authkey, authkey_file)
    except (OSError, ValueError) as e:
        raise ConnectError("auth-failed", str(e)) from None
    if secret is None:
        raise ConnectError("auth-failed", "no authkey: pass key=, authkey= or authkey_file=, set "
                           "UNI_KEY or UNI_AUTHKEY, or start a manager without one so that it "
                           "creates " + default_authkey_path())
    keys = derive_curve_keys(secret)
    return Cluster(Connection(address, keys, connect_timeout, on_notice, max_outstanding))
