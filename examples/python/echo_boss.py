"""The original Python universal server's echo boss, on uni: two workers
are turned into TCP echo servers by sending them a plain Python function,
started as services (cluster.spawn). Each echoes what a client sends and
returns its port when a client sends QUIT, as in the original. Here the boss
also plays the client, so that the example ends by itself.

    UNI_CONNECT=tcp://127.0.0.1:7070 PYTHONPATH=python /usr/bin/python3 examples/python/echo_boss.py [PORT ...]
"""

import os
import socket
import sys
import time


import uni


def server(port):
    import socket  # the original needed the import inside; cloudpickle does not, but it is harmless
    host = "127.0.0.1"
    backlog = 5
    size = 1024
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, port))
    s.listen(backlog)
    done = False
    print("start serving", port)
    while not done:
        client, address = s.accept()
        data = client.recv(size)
        if data:
            client.send(data)
        client.close()
        done = data.decode().strip() == "QUIT"
    print("done serving", port)
    return port


def talk(port, line):
    for _ in range(200):  # the service may still be binding its port
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=10) as c:
                c.sendall(line.encode() + b"\n")
                return c.recv(1024).decode().strip()
        except ConnectionRefusedError:
            time.sleep(0.05)
    raise RuntimeError("no echo server on port %d" % port)


if __name__ == "__main__":
    ports = [int(p) for p in sys.argv[1:]] or [5001, 5002]
    with uni.connect() as cluster:
        print("Echo started with PID=", os.getpid())
        services = [cluster.spawn(server, port) for port in ports]  # remote(server, manager)(port)
        for port, service in zip(ports, services):
            if not service.wait_started(30):
                sys.exit("the echo server for port %d did not start: %s" % (port, service.result()))
            print("service %s runs server(%d)" % (service.id, port))
        for port in ports:
            print("port %d echoes: %s" % (port, talk(port, "hello from the boss")))
        for port, service in zip(ports, services):
            talk(port, "QUIT")
            print("server on port %d returned %s" % (port, service.result(30)))
