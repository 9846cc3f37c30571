"""The original Python universal server's factorial boss, on uni: a plain
Python function, defined here in __main__, computed on the workers for a list
of numbers; each result comes back with the pid of the process that computed
it, as the original's result queue carried it.

    UNI_CONNECT=tcp://127.0.0.1:7070 PYTHONPATH=python /usr/bin/python3 examples/python/factorial_boss.py
"""

import os

import uni


def factorial(n):
    res = 1
    while n > 1:
        res, n = res * n, n - 1
    return res


if __name__ == "__main__":
    with uni.connect() as cluster:  # UNI_CONNECT, else tcp://127.0.0.1:7070
        print("Factorial started with PID=", os.getpid())
        inputs = range(1, 10)
        futures = [cluster.submit(factorial, num) for num in inputs]  # remote(factorial, manager)(num)
        for num, future in zip(inputs, futures):                    # res_q.get()
            result = future.result()
            print((future.worker.pid, result))  # the original's (os.getpid(), result)
        # The same as one map, in input order: the function is shipped once.
        print(list(cluster.map(factorial, inputs)))
