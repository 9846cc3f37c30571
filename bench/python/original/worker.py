"""The original Python universal server's worker, as published: it takes
(marshalled code, args, kwargs) from the job queue, rebuilds the function and
puts (pid, result) on the result queue."""

from manager import connect
import marshal
import types
import os
import sys


def universal(job_q, res_q):
    while True:
        funcs, args, kwargs = job_q.get()
        func_code = marshal.loads(funcs)
        func = types.FunctionType(func_code, globals(), 'loaded_func')
        print('processing ', func, args, kwargs)
        res_q.put((os.getpid(), func(*args, **kwargs)))


if __name__ == '__main__':
    manager = connect('127.0.0.1', int(sys.argv[1]), b'abc')
    print('Worker started with PID=', os.getpid(), flush=True)
    universal(manager.get_job_q(), manager.get_res_q())
