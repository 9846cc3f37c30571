"""Python bench: cluster.map of N ident(i) tasks from Python, beside `uni map`
(C++) of the same inputs on the same cluster, as JSON lines (see
docs/performance.md, "Python client"). Run with Debian's Python:

    /usr/bin/python3 bench/python/map_bench.py [--tasks 100000] [--build build]
"""

import argparse
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "python"))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "conformance"))

import uni  # noqa: E402
from harness import LocalCluster  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=100000)
    parser.add_argument("--build", default=os.path.join(HERE, "..", "..", "build"))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--slots", type=int, default=1)
    args = parser.parse_args()
    binary = os.path.join(args.build, "bin", "uni")
    module = os.path.join(args.build, "modules", "libtestfns.so")
    n = args.tasks
    with LocalCluster(binary, workers=args.workers, slots=args.slots) as local:
        local.apply_env()
        with uni.connect(local.address) as cluster:
            ident = cluster.module(module).ident
            list(cluster.map(ident, range(1000)))  # warm: module shipped and loaded
            start = time.perf_counter()
            results = list(cluster.map(ident, range(n)))
            elapsed = time.perf_counter() - start
            assert results == list(range(n)), "wrong results"
        print(json.dumps({"bench": "python_map", "client": "python", "tasks": n,
                          "workers": args.workers, "slots": args.slots,
                          "seconds": round(elapsed, 3), "tasks_per_s": round(n / elapsed)}))
        elapsed = local.time_cli_map(module, "ident", n)
        print(json.dumps({"bench": "python_map", "client": "uni map (C++)", "tasks": n,
                          "workers": args.workers, "slots": args.slots,
                          "seconds": round(elapsed, 3), "tasks_per_s": round(n / elapsed)}))


if __name__ == "__main__":
    main()
