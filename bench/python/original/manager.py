"""The original Python universal server's manager, as published (a
multiprocessing SyncManager holding a job queue and a result queue), kept as
the anchor of bench/python/functions_bench.py. Only what the published text
left out is filled in: the class body, the port from the command line, and
serve_forever()."""

from multiprocessing.managers import SyncManager
import marshal
import os
import sys


class Manager(SyncManager):
    pass


def connect(ip, port, auth):
    manager = Manager(address=(ip, port), authkey=auth)
    manager.connect()
    return manager


def remote(func, manager):
    def inner(*args, **kwargs):
        manager.get_job_q().put((marshal.dumps(func.__code__), args, kwargs))
    return inner


Manager.register('get_job_q')
Manager.register('get_res_q')

if __name__ == '__main__':
    from multiprocessing import Queue
    job_q = Queue()
    res_q = Queue()
    Manager.register('get_job_q', callable=lambda: job_q)
    Manager.register('get_res_q', callable=lambda: res_q)
    manager = Manager(address=('127.0.0.1', int(sys.argv[1])), authkey=b'abc')
    print('Manager startet with PID=', os.getpid(), flush=True)
    manager.get_server().serve_forever()
