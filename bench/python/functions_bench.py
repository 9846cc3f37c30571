"""Python functions bench, one run, as JSON lines (docs/performance.md,
"Python functions"): the original Python universal server (its manager and
workers, bench/python/original/, the anchor) beside uni running the same
Python function on the same number of workers.

- W1: N calls of an identity function, all submitted, results in order:
  the original (remote(ident, manager)(i), then res_q.get()), uni's
  cluster.map from Python over the manager's protocol in Python (pure) and
  through libuni-client.so (native), and `uni map` of the C++ ident module.
- W2: the round trip of one call, submit then wait, one at a time.
- unpickle: what a worker pays per task to unpickle a function it has not
  cached (cloudpickle.loads of the function, timed here), beside the W1 task;
  and end to end, N calls of N distinct functions (each a module of its own,
  shipped and loaded once) beside N calls of one.

    /usr/bin/python3 bench/python/functions_bench.py [--tasks 20000] [--build build]
"""

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "python"))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "conformance"))
sys.path.insert(0, os.path.join(HERE, "original"))

import cloudpickle  # noqa: E402

import uni  # noqa: E402
from harness import LocalCluster, free_tcp_port  # noqa: E402


def ident(x):
    return x


def emit(**fields):
    print(json.dumps(fields), flush=True)


def original(n_faithful, n_held, workers, round_trips):
    """W1 and W2 on the original universal server: its manager and workers.
    Faithful: remote(ident, manager)(i) as published, which asks the manager
    for the job queue on every call (a new connection and proxy each time).
    Held: the same queue proxy kept for every put, which the original does
    not do; the most its design gives. Returns both W1 rates."""
    import marshal
    import manager as original_manager
    port = free_tcp_port()
    env = dict(os.environ, PYTHONPATH=os.path.join(HERE, "original"))
    processes = [subprocess.Popen([sys.executable, os.path.join(HERE, "original", "manager.py"),
                                   str(port)], env=env, stdout=subprocess.DEVNULL)]
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("the original manager did not start")
                time.sleep(0.05)
        for _ in range(workers):
            processes.append(subprocess.Popen(
                [sys.executable, os.path.join(HERE, "original", "worker.py"), str(port)],
                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        manager = original_manager.connect("127.0.0.1", port, b"abc")
        res_q = manager.get_res_q()
        job_q = manager.get_job_q()
        code = marshal.dumps(ident.__code__)
        for i in range(20):  # warm: the workers are up
            job_q.put((code, (i,), {}))
        for _ in range(20):
            res_q.get()
        rates = []
        for variant, n in (("faithful", n_faithful), ("queue proxy held", n_held)):
            start = time.perf_counter()
            for i in range(n):
                if variant == "faithful":
                    original_manager.remote(ident, manager)(i)
                else:
                    job_q.put((code, (i,), {}))
            results = [res_q.get()[1] for _ in range(n)]
            elapsed = time.perf_counter() - start
            assert sorted(results) == list(range(n))
            rates.append(n / elapsed)
            emit(bench="python_functions", workload="W1",
                 system="original universal server (%s)" % variant, tasks=n, workers=workers,
                 seconds=round(elapsed, 3), tasks_per_s=round(n / elapsed))
        times = []
        for i in range(round_trips):
            t = time.perf_counter()
            original_manager.remote(ident, manager)(i)
            res_q.get()
            times.append(time.perf_counter() - t)
        emit(bench="python_functions", workload="W2", system="original universal server (faithful)",
             calls=round_trips, median_us=round(statistics.median(times) * 1e6),
             mean_us=round(statistics.mean(times) * 1e6))
        return rates
    finally:
        for p in processes:
            p.kill()
            p.wait()


def on_uni(local, n, native, round_trips):
    label = "uni cluster.map, Python client (%s)" % ("native: libuni-client.so" if native
                                                     else "pure Python protocol")
    with uni.connect(local.address, native=native) as cluster:
        list(cluster.map(ident, range(1000)))  # warm: shipped, loaded in every executor
        start = time.perf_counter()
        results = list(cluster.map(ident, range(n)))
        elapsed = time.perf_counter() - start
        assert results == list(range(n))
        emit(bench="python_functions", workload="W1", system=label, tasks=n,
             seconds=round(elapsed, 3), tasks_per_s=round(n / elapsed))
        fn = cluster.remote(ident)
        times = []
        for i in range(round_trips):
            t = time.perf_counter()
            fn(i)
            times.append(time.perf_counter() - t)
        emit(bench="python_functions", workload="W2", system=label, calls=round_trips,
             median_us=round(statistics.median(times) * 1e6),
             mean_us=round(statistics.mean(times) * 1e6))
        return n / elapsed, cluster


def distinct_functions(local, count):
    """count calls of count distinct functions (each shipped and loaded once) vs of one."""
    with uni.connect(local.address) as cluster:
        same = cluster.remote(ident)
        same(0)
        start = time.perf_counter()
        futures = [same.submit(i) for i in range(count)]
        [f.result() for f in futures]
        one = (time.perf_counter() - start) / count
        makers = [eval("lambda x: x + %d" % i) for i in range(count)]  # distinct code each
        start = time.perf_counter()
        futures = [cluster.submit(f, 0) for f in makers]
        [f.result() for f in futures]
        each = (time.perf_counter() - start) / count
        emit(bench="python_functions", workload="distinct functions", calls=count,
             one_function_us_per_call=round(one * 1e6),
             distinct_functions_us_per_call=round(each * 1e6))


def unpickle_cost():
    pickled = cloudpickle.dumps(lambda x: x, protocol=5)
    loads = cloudpickle.loads
    rounds = 20000
    start = time.perf_counter()
    for _ in range(rounds):
        loads(pickled)
    uncached = (time.perf_counter() - start) / rounds
    emit(bench="python_functions", workload="unpickle", pickled_bytes=len(pickled),
         unpickle_us=round(uncached * 1e6, 2),
         note="what a task would pay per call without the worker's cache of unpickled "
              "functions (the cached path pays nothing: W1)")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=20000)
    parser.add_argument("--original-tasks", type=int, default=100,
                        help="W1 size for the original as published, which takes a new manager "
                             "connection per call (its remote() asks for the queue each time)")
    parser.add_argument("--original-held-tasks", type=int, default=2000)
    parser.add_argument("--round-trips", type=int, default=500)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--build", default=os.path.join(HERE, "..", "..", "build"))
    args = parser.parse_args()
    os.environ.setdefault("UNI_PYTHON_RUNTIME",
                          os.path.join(args.build, "modules", "libuni_python.so"))
    os.environ.setdefault("UNI_CLIENT_LIBRARY", os.path.join(args.build, "lib", "libuni-client.so"))
    binary = os.path.join(args.build, "bin", "uni")
    n = args.tasks
    faithful, held = original(args.original_tasks, args.original_held_tasks, args.workers, 20)
    with LocalCluster(binary, workers=args.workers, slots=1) as local:
        local.apply_env()
        pure, _ = on_uni(local, n, False, args.round_trips)
        native, _ = on_uni(local, n, True, args.round_trips)
        module = os.path.join(args.build, "modules", "libtestfns.so")
        elapsed = local.time_cli_map(module, "ident", n)
        cxx = n / elapsed
        emit(bench="python_functions", workload="W1", system="uni map, C++ ident module",
             tasks=n, seconds=round(elapsed, 3), tasks_per_s=round(cxx))
        distinct_functions(local, 200)
    unpickle_cost()
    emit(bench="python_functions", workload="W1 ratios",
         pure_vs_original=round(pure / faithful), pure_vs_original_held=round(pure / held, 1),
         native_vs_original_held=round(native / held, 1),
         pure_vs_cxx_uni_map=round(pure / cxx, 2), native_vs_cxx_uni_map=round(native / cxx, 2))


if __name__ == "__main__":
    main()
