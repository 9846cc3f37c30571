"""uni: run Python functions, and C++ module functions, on a uni cluster.

    import uni
    with uni.connect() as cluster:                   # $UNI_CONNECT, authkey as the CLI finds it
        print(cluster.submit(lambda x: x * x, 7).result())   # any picklable callable
        print(list(cluster.map(factorial, range(1, 10))))      # shipped once, results in order
        service = cluster.spawn(server, 5001)        # a Python function as a service

C++ modules:

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
from ._python_functions import PythonFunction
from .errors import (ArgumentError, BecomeError, ConnectError, Error, ModuleError, RefusedError,
                     TaskError, UnknownFunctionError, WorkerInfo)

__version__ = "0.1.0"

__all__ = ["connect", "Cluster", "Executor", "Future", "Module", "RemoteFunction", "Service",
           "PythonFunction",
           "BecomeResult", "ModuleFile", "Error", "ConnectError", "RefusedError", "ModuleError",
           "TaskError",
           "ArgumentError", "UnknownFunctionError", "BecomeError", "WorkerInfo"]


def connect(address=None, *, key=None, authkey=None, authkey_file=None, connect_timeout=5.0,
            on_notice=None, max_outstanding=1_000_000, native=None):
    """Connects to the manager at `address` ("tcp://host:port" or "host:port";
    None: $UNI_CONNECT, else tcp://127.0.0.1:7070) and returns a Cluster.

    `key`: a client key file written by `uni keygen` (NAME.secret), for a
    manager started with --clients: the client connects as that key, with its
    role (docs/security.md); a file others may read is refused. Without it,
    the authkey is found as the uni CLI finds it: `authkey`, else the file
    `authkey_file`, else a key file in $UNI_KEY, else $UNI_AUTHKEY, else the
    key file `uni manager` creates (~/.config/uni/authkey). Raises
    ConnectError (reason "unreachable", "auth-failed" or "refused") within
    connect_timeout seconds; "refused" at once for an address of no broker
    uni knows.

    A nats:// or tls:// address (a NATS JetStream cluster) is reached through
    uni's own boss library, libuni-client.so (its C ABI, include/uni/c_api.h),
    which speaks both brokers; a tcp:// address through this package's own
    implementation of the manager's protocol, or the library too with
    native=True (docs/python.md compares them). A client key file (`key`) is
    for the manager through this package's own implementation.

    on_notice(text): messages from the manager, e.g. that tasks wait for a
    worker that is not there (default: printed to stderr). max_outstanding:
    a submission beyond this many unfinished tasks blocks until one finishes.
    """
    address = address or os.environ.get("UNI_CONNECT") or "tcp://127.0.0.1:7070"
    scheme = address.split("://", 1)[0] if "://" in address else "tcp"
    if scheme not in ("tcp", "nats", "tls"):
        raise ConnectError("refused", "%s: unknown scheme %s://; uni takes tcp://HOST:PORT (or "
                           "HOST:PORT) for its manager, nats:// or tls:// for a NATS cluster"
                           % (address, scheme))
    if key and (authkey or authkey_file):
        raise Error("give a key file or an authkey, not both")
    if scheme != "tcp" or native:
        if key:
            raise Error("a client key file (key=) is for the built-in manager (tcp://) without "
                        "native=True; %s is reached through libuni-client.so with the authkey"
                        % address)
        from ._native import NativeConnection
        return Cluster(NativeConnection(address, authkey, authkey_file, connect_timeout,
                                        max_outstanding))
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
