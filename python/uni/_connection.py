"""The boss's connection to a manager: a CURVE DEALER socket owned by one I/O
thread, which batches what user threads hand it into SUBMITs, ships modules
when the manager asks, acknowledges results, and after every reconnection
says HELLO again and resubmits each task that has no result yet (the manager
drops duplicates by id). The Python twin of src/client/client.cpp and
src/proto/peer_connection.cpp; the rules it follows are in docs/protocol.md
§2.4 and §12.
"""

import collections
import logging
import os
import sys
import threading
import time

import zmq
from zmq.utils.monitor import recv_monitor_message

from . import _protocol as p
from .errors import ConnectError, Error, RefusedError

log = logging.getLogger("uni")

# As src/broker/zmq/transport.cpp sets them on the reference peers (docs/protocol.md §2.3).
_SOCKET_OPTIONS = (
    (zmq.IMMEDIATE, 1),  # queue only on a live connection; state is resent after HELLO
    (zmq.RECONNECT_IVL, 100),
    (zmq.RECONNECT_IVL_MAX, 1000),
    (zmq.SNDHWM, 100000),
    (zmq.RCVHWM, 100000),
    (zmq.HEARTBEAT_IVL, 1000),  # ZMTP heartbeats drop a dead connection ...
    (zmq.HEARTBEAT_TIMEOUT, 5000),  # ... after 5 s, then libzmq reconnects
    (zmq.HANDSHAKE_IVL, 3000),
    (zmq.LINGER, 200),  # long enough for the last ACK or BYE
)
_HANDSHAKE_FAILED = (zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL, zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL,
                     zmq.EVENT_HANDSHAKE_FAILED_AUTH)
_QUEUE_FULL_RETRY = 0.2  # seconds, as the C++ boss waits
_BECOME_LOST = ("; whether the service took on the new code is unknown (cluster.status() shows "
                "the module and function each service runs)")


def normalize_endpoint(address):
    return address if "://" in address else "tcp://" + address


def _seconds_text(seconds):
    return "%g" % seconds


_HANDSHAKE_LIMIT = 3.0  # seconds, zmq.HANDSHAKE_IVL above
_STALLED_AFTER = _HANDSHAKE_LIMIT / 2  # a failure this late is a stall, not a refusal


def _stalled_text(endpoint):
    return ("the manager at %s accepted the connection but did not complete the handshake in "
            "%s s (busy or overloaded)" % (endpoint, _seconds_text(_HANDSHAKE_LIMIT)))


class _HandshakeWatch:
    """Turns socket monitor events into a verdict on a first connection
    (HandshakeWatch in src/broker/zmq/transport.cpp, docs/protocol.md §3.4): a
    key that is refused ends the connection within milliseconds, a handshake
    that fails after most of the handshake limit stalled (the manager is
    busy)."""

    def __init__(self, endpoint):
        self.endpoint, self.tcp_connects, self.failures, self.ok = endpoint, 0, 0, False
        self.stalls, self.last_stalled, self.connected_at = 0, False, 0.0

    def _failed(self, now):
        stalled = self.tcp_connects > 0 and now - self.connected_at >= _STALLED_AFTER
        if stalled and not self.last_stalled:
            self.stalls += 1
        if not stalled:
            self.failures += 1
        self.last_stalled = stalled

    def on_event(self, event, now=None):
        now = time.monotonic() if now is None else now
        if event == zmq.EVENT_CONNECTED:
            self.tcp_connects += 1
            self.connected_at, self.last_stalled = now, False
        elif event == zmq.EVENT_HANDSHAKE_SUCCEEDED:
            self.ok = True
        elif event in _HANDSHAKE_FAILED:
            self._failed(now)
        elif event == zmq.EVENT_DISCONNECTED:
            if not self.ok:  # a CURVE server drops a client that used the wrong key
                self._failed(now)
            self.ok = False

    def check(self, waited, limit):
        if self.ok:
            return
        if self.tcp_connects > 0 and self.failures >= 2:
            raise ConnectError("auth-failed", "authentication failed (wrong authkey, or a key not "
                               "admitted?) connecting to " + self.endpoint)
        if waited < limit:
            return
        if self.tcp_connects > 0 and self.failures > 0 and self.stalls == 0:
            raise ConnectError("auth-failed", "authentication failed (wrong authkey, or a key not "
                               "admitted?): the handshake with %s did not complete" % self.endpoint)
        if self.tcp_connects > 0:
            raise ConnectError("unreachable", "%s; gave up after %s s"
                               % (_stalled_text(self.endpoint), _seconds_text(limit)))
        raise ConnectError("unreachable", "cannot connect to %s: no manager answered within %s s"
                           % (self.endpoint, _seconds_text(limit)))


class Pending:
    """A task handed to the connection: its SUBMIT record (kept for resubmission
    until the result arrives), its module, and `sink`, called once on the I/O
    thread with (seq, status, payload, worker, host, pid). `on_started`, for a
    service submitted with the started-event flag: called on the I/O thread
    when the manager says it runs (SERVICE_STARTED, perhaps more than once)."""

    __slots__ = ("record", "module", "sink", "on_started")

    def __init__(self, record, module, sink, on_started=None):
        self.record, self.module, self.sink, self.on_started = record, module, sink, on_started


class _BecomeWaiter:
    """A BECOME sent and not yet answered: who waits, the module the manager
    may ask for, and how many HELLOs had been said when it went out (a
    manager that has not seen this boss's latest HELLO dropped it)."""

    __slots__ = ("reply", "module", "hellos")

    def __init__(self, reply, module, hellos):
        self.reply, self.module, self.hellos = reply, module, hellos


class Connection:
    """Connects at construction (blocking until WELCOME, ConnectError otherwise)
    and runs the I/O thread until close()."""

    def __init__(self, address, keys, connect_timeout=5.0, on_notice=None,
                 max_outstanding=1_000_000):
        self.endpoint = normalize_endpoint(address)
        # A key file's sessions begin with its owner tag (docs/security.md);
        # the secret, said in every HELLO, lets only this client resume it.
        owner_tag = getattr(keys, "owner_tag", None)
        if owner_tag is None:
            self.session = int.from_bytes(os.urandom(8), "little")
        else:
            self.session = (owner_tag << 32) | int.from_bytes(os.urandom(4), "little")
        self._secret = os.urandom(16)
        self._on_notice = on_notice or (lambda text: print("uni: " + text, file=sys.stderr))
        self._context = zmq.Context(1)
        self._socket = self._context.socket(zmq.DEALER)
        s = self._socket
        s.curve_serverkey = keys.server_public
        s.curve_publickey = keys.client_public
        s.curve_secretkey = keys.client_secret
        for option, value in _SOCKET_OPTIONS:
            s.setsockopt(option, value)
        self._monitor = s.get_monitor_socket(zmq.EVENT_ALL)
        self._wake_fd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)

        # Shared with user threads, under _lock.
        self._lock = threading.Lock()
        self._to_submit = []
        self._to_cancel = []
        self._requests = []  # (kind, ids or BECOME fields, concurrent.futures.Future)
        self._wake_pending = False
        self._next_seq = 1
        self._next_become = 1
        self._outstanding = 0
        self._max_outstanding = max(1, max_outstanding)
        self._window = threading.Condition(self._lock)
        self._closed = False

        # The I/O thread's own.
        self._pending = {}  # seq -> Pending
        self._modules = {}  # hash -> ModuleFile
        self._cancelled = []  # ids sent again after a reconnect until their results arrive
        # Whether a message went out in CHUNKs, and whether the manager said it
        # cannot read them (one older than CHUNK: _on_error).
        self._sent_in_pieces = False
        self._no_pieces = None  # why, once known
        self._status_waiters = collections.deque()
        self._cancel_waiters = collections.deque()
        self._become_waiters = {}  # BECOME request number -> _BecomeWaiter
        self._hellos = 0  # HELLOs sent, for _BecomeWaiter.hellos
        self._acks = []
        self._retry = []
        self._retry_at = 0.0
        self._hello_sent_at = None
        self._stop = False
        try:
            self.welcome = self._open(connect_timeout)
        except BaseException:
            self._close_sockets()
            raise
        self._heartbeat = (self.welcome.get("heartbeat_ms") or 1000) / 1000.0
        self.max_message = self.welcome.get("max_message") or (128 << 20)
        self._thread = threading.Thread(target=self._run, name="uni-io", daemon=True)
        self._thread.start()

    # ---- user threads ------------------------------------------------------------------

    def submit(self, module, function, args, timeout_ms, wait_ms, max_attempts, flags, sink,
               on_started=None):
        """Queues one task; returns its seq. Blocks while max_outstanding tasks
        are unfinished."""
        with self._lock:
            if self._closed:
                raise Error("the connection to the cluster is closed")
            while self._outstanding >= self._max_outstanding:
                self._window.wait()
                if self._closed:
                    raise Error("the connection to the cluster is closed")
            seq = self._next_seq
            self._next_seq = seq + 1
            record = [self.session, seq, module.hash, function, args, timeout_ms, wait_ms,
                      max_attempts, flags, 1]
            self._to_submit.append(Pending(record, module, sink, on_started))
            self._outstanding += 1
            wake = not self._wake_pending
            self._wake_pending = True
        if wake:
            os.eventfd_write(self._wake_fd, 1)
        return seq

    def submit_many(self, module, function, packed_args, timeout_ms, wait_ms, max_attempts,
                    flags, sinks):
        """submit() for many tasks at once (one lock, one wake); returns the first seq."""
        first = None
        for args, sink in zip(packed_args, sinks):
            with self._lock:
                if self._closed:
                    raise Error("the connection to the cluster is closed")
                while self._outstanding >= self._max_outstanding:
                    self._wake_locked()
                    self._window.wait()
                    if self._closed:
                        raise Error("the connection to the cluster is closed")
                seq = self._next_seq
                self._next_seq = seq + 1
                if first is None:
                    first = seq
                self._to_submit.append(Pending(
                    [self.session, seq, module.hash, function, args, timeout_ms, wait_ms,
                     max_attempts, flags, 1], module, sink))
                self._outstanding += 1
                if len(self._to_submit) >= 4096:
                    self._wake_locked()
        with self._lock:
            self._wake_locked()
        return first

    def _wake_locked(self):
        if not self._wake_pending:
            self._wake_pending = True
            os.eventfd_write(self._wake_fd, 1)

    def cancel_async(self, ids):
        with self._lock:
            self._to_cancel.extend(ids)
            self._wake_locked()

    def request(self, kind, ids=()):
        """STATUS or CANCEL with a reply: a concurrent.futures.Future of the
        reply's body (the status map, or the list of cancel outcomes)."""
        import concurrent.futures
        reply = concurrent.futures.Future()
        with self._lock:
            if self._closed:
                raise Error("the connection to the cluster is closed")
            self._requests.append((kind, list(ids), reply))
            self._wake_locked()
        return reply

    def request_become(self, service, module, function, timeout_ms):
        """BECOME (docs/protocol.md §7.21) of service (session, seq): a
        concurrent.futures.Future of the BECOME_REPLY's (ok, text, handover_ns,
        becomes). It fails with ConnectError if the connection drops, or the
        manager restarts, before the reply comes: the reply is lost then."""
        import concurrent.futures
        reply = concurrent.futures.Future()
        with self._lock:
            if self._closed:
                raise Error("the connection to the cluster is closed")
            number = self._next_become
            self._next_become += 1
            fields = (number, service[0], service[1], module, function, timeout_ms)
            self._requests.append((p.BECOME, fields, reply))
            self._wake_locked()
        return reply

    def outstanding(self):
        with self._lock:
            return self._outstanding

    def close(self):
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._window.notify_all()
        self._stop = True
        os.eventfd_write(self._wake_fd, 1)
        self._thread.join()

    # ---- connecting --------------------------------------------------------------------

    def _open(self, timeout):
        try:
            self._socket.connect(self.endpoint)
        except zmq.ZMQError as e:
            raise ConnectError("unreachable", "cannot connect to %s: %s" % (self.endpoint, e))
        start = time.monotonic()
        watch = _HandshakeWatch(self.endpoint)
        poller = zmq.Poller()
        poller.register(self._socket, zmq.POLLIN)
        poller.register(self._monitor, zmq.POLLIN)
        hello = p.hello(self.session, self._secret)
        hello_sent = False
        while True:
            waited = time.monotonic() - start
            if not watch.ok:
                watch.check(waited, timeout)
            if waited >= timeout:
                raise ConnectError("unreachable",
                                   "the manager at %s did not answer HELLO" % self.endpoint)
            # HELLO goes out once the CURVE handshake has succeeded: with
            # ZMQ_IMMEDIATE a send before that fails with EAGAIN.
            poller.poll(50 if hello_sent or not watch.ok else 5)
            for event in self._monitor_events():
                watch.on_event(event)
            if watch.ok and not hello_sent:
                hello_sent = self._send(hello)
            while True:
                frame = self._recv()
                if frame is None:
                    break
                try:
                    m = p.unpack(frame)
                    kind, version = m[0], m[1]
                except Exception as e:
                    raise ConnectError("refused", "the peer at %s does not speak the uni "
                                       "protocol: %s" % (self.endpoint, e))
                if kind == p.WELCOME and version == p.VERSION:
                    return m[2]
                if kind == p.ERROR:
                    if m[2] == "hello-required":
                        hello_sent = self._send(hello)
                        continue
                    if m[2] == "refused":  # the manager's words say which key and why
                        raise ConnectError("refused", m[3])
                    raise ConnectError("refused", "the manager at %s refused the connection: %s"
                                       % (self.endpoint, m[3]))

    def _monitor_events(self):
        while True:
            try:
                yield recv_monitor_message(self._monitor, zmq.NOBLOCK)["event"]
            except zmq.Again:
                return

    def _send(self, body):
        try:
            frames = p.frames(body)  # a message larger than a frame goes in CHUNKs
            for frame in frames:
                self._socket.send(frame, zmq.NOBLOCK)
            self._sent_in_pieces |= len(frames) > 1
            return True
        except zmq.ZMQError:  # EAGAIN while disconnected: the state is resent after HELLO
            return False

    def _recv(self):
        try:
            return self._socket.recv(zmq.NOBLOCK)
        except zmq.Again:
            return None

    # ---- the I/O thread ----------------------------------------------------------------

    def _run(self):
        poller = zmq.Poller()
        poller.register(self._socket, zmq.POLLIN)
        poller.register(self._monitor, zmq.POLLIN)
        poller.register(self._wake_fd, zmq.POLLIN)
        next_heartbeat = time.monotonic()
        connected_at = 0.0
        try:
            while not self._stop:
                wait = self._heartbeat if not self._retry else 0.05
                ready = dict(poller.poll(int(wait * 1000)))
                if self._monitor in ready:
                    for event in self._monitor_events():
                        # A new connection after a drop: say HELLO, then resubmit on WELCOME.
                        if event == zmq.EVENT_HANDSHAKE_SUCCEEDED:
                            self._say_hello()
                        elif event == zmq.EVENT_DISCONNECTED:
                            self._fail_waiters("the connection to the manager was lost")
                        elif event == zmq.EVENT_CONNECTED:
                            connected_at = time.monotonic()
                        elif event in _HANDSHAKE_FAILED:
                            if time.monotonic() - connected_at >= _STALLED_AFTER:
                                log.warning("cannot reconnect: %s; retrying",
                                            _stalled_text(self.endpoint))
                            else:
                                log.warning("cannot reconnect to the manager at %s: "
                                            "authentication failed (did it restart with another "
                                            "authkey?); retrying", self.endpoint)
                if self._wake_fd in ready:
                    try:
                        os.eventfd_read(self._wake_fd)
                    except BlockingIOError:
                        pass
                    self._take_work()
                if self._socket in ready:
                    for _ in range(1024):
                        frame = self._recv()
                        if frame is None:
                            break
                        self._on_frame(frame)
                if self._acks:
                    for at in range(0, len(self._acks), p.ACK_IDS):  # each ACK fits in a frame
                        self._send(p.ids_message(p.ACK, self._acks[at:at + p.ACK_IDS]))
                    self._acks = []
                now = time.monotonic()
                if self._retry and now >= self._retry_at:
                    again, self._retry = self._retry, []
                    self._send_tasks(again)
                if now >= next_heartbeat:
                    self._send(p.heartbeat())
                    next_heartbeat = now + self._heartbeat
            self._send(p.bye("boss leaving"))
        except Exception:  # a bug here must not leave callers waiting for ever
            log.exception("the uni I/O thread failed")
        finally:
            self._finish("the connection to the cluster was closed before the task finished")

    def _finish(self, why):
        with self._lock:
            self._closed = True
            self._window.notify_all()
            leftover = self._to_submit
            self._to_submit = []
            requests = self._requests
            self._requests = []
        for waiter in list(self._status_waiters) + list(self._cancel_waiters):
            if waiter is not None and not waiter.done():
                waiter.set_exception(Error("the connection is closing"))
        self._fail_becomes(lambda w: True, Error("the connection is closing"))
        for _, _, reply in requests:
            reply.set_exception(Error("the connection is closing"))
        pending = list(self._pending.values()) + leftover
        self._pending.clear()
        for task in pending:
            task.sink(task.record[1], None, why, "", "", 0)
        self._close_sockets()

    def _fail_waiters(self, why):
        # STATUS and CANCEL replies carry no request id and are matched by
        # order (docs/protocol.md §7.12): replies to requests sent on a dropped
        # connection never come, so their waiters go, or they would take the
        # replies meant for later requests.
        for waiters in (self._status_waiters, self._cancel_waiters):
            for waiter in waiters:
                if waiter is not None and not waiter.done():
                    waiter.set_exception(Error(why))
            waiters.clear()
        self._fail_becomes(lambda w: True, ConnectError("unreachable", why + _BECOME_LOST))

    def _fail_becomes(self, which, error):
        # A BECOME's reply is never resent: one lost with its connection
        # leaves the outcome unknown, which the error says.
        for number, waiter in list(self._become_waiters.items()):
            if which(waiter):
                del self._become_waiters[number]
                if not waiter.reply.done():
                    waiter.reply.set_exception(error)

    def _close_sockets(self):
        self._monitor.close(0)
        self._socket.close()
        self._context.term()
        os.close(self._wake_fd)

    def _say_hello(self):
        self._hellos += 1
        if self._send(p.hello(self.session, self._secret)):
            self._hello_sent_at = time.monotonic()

    def _take_work(self):
        with self._lock:
            tasks, self._to_submit = self._to_submit, []
            cancels, self._to_cancel = self._to_cancel, []
            requests, self._requests = self._requests, []
            self._wake_pending = False
        for task in tasks:
            self._pending[task.record[1]] = task
            self._modules.setdefault(task.module.hash, task.module)
        if tasks:
            self._send_tasks(tasks)
        if cancels:
            self._cancelled.extend(cancels)
            self._send_cancel(cancels, None)
        for kind, ids, reply in requests:
            if kind == p.STATUS:
                if self._send(p.status_request()):
                    self._status_waiters.append(reply)
                else:
                    reply.set_exception(Error("not connected to the manager"))
            elif kind == p.BECOME:
                self._send_become(ids, reply)
            else:
                self._send_cancel(ids, reply)

    def _send_become(self, fields, reply):
        number, session, seq, module, function, timeout_ms = fields
        # The manager asks for the module (NEED_MODULE) if it lacks it.
        self._modules.setdefault(module.hash, module)
        if self._send(p.become(number, session, seq, module.hash, function, timeout_ms)):
            self._become_waiters[number] = _BecomeWaiter(reply, module, self._hellos)
        else:
            reply.set_exception(ConnectError("unreachable", "not connected to the manager"))

    def _send_cancel(self, ids, reply):
        # Replies come back in order, with no request id: a None waiter marks
        # a reply nobody awaits.
        if self._send(p.ids_message(p.CANCEL, ids)):
            self._cancel_waiters.append(reply)
        elif reply is not None:
            reply.set_exception(Error("not connected to the manager"))

    def _send_tasks(self, tasks):
        budget = self.max_message // 2
        batch, size = [], 0
        for task in tasks:
            record = task.record
            if task.record[1] not in self._pending:
                continue  # resolved meanwhile (cancelled locally, or a late result)
            if not record[3]:  # the manager would refuse the whole SUBMIT for it
                self._resolve(record[1], p.REJECTED,
                              b"the task names no function (empty function name)", "", "", 0)
                continue
            task_size = len(record[4]) + len(record[3]) + 96
            if task_size > budget:
                self._resolve(record[1], p.REJECTED, (
                    "the task's arguments take %d bytes, more than the manager accepts in one "
                    "message (%d bytes, --max-message)" % (len(record[4]), self.max_message)
                ).encode(), "", "", 0)
                continue
            if size + task_size > p.BATCH_BYTES and batch:
                self._send(p.submit(batch))  # unsent: resubmitted after the next HELLO
                batch, size = [], 0
            batch.append(record)
            size += task_size
        if batch:
            self._send(p.submit(batch))

    def _resolve(self, seq, status, payload, worker, host, pid):
        task = self._pending.pop(seq, None)
        if task is None:
            return  # a duplicate after a reconnect: already resolved
        with self._lock:
            self._outstanding -= 1
            if self._outstanding == self._max_outstanding - 1:
                self._window.notify_all()
        task.sink(seq, status, payload, worker, host, pid)

    def _on_frame(self, frame):
        try:
            m = p.unpack(frame)
            kind = m[0]
            if m[1] != p.VERSION and kind != p.ERROR:
                log.warning("ignoring a message of protocol version %s", m[1])
                return
            handler = self._HANDLERS.get(kind)
            if handler is None:
                log.warning("unexpected message type %s from the manager", kind)
                return
            handler(self, m)
        except Exception as e:  # a malformed message is logged, never fatal
            log.error("malformed message from the manager: %s", e)

    def _on_result(self, m):
        for r in m[2]:
            session, seq, status, payload, worker, host, pid = r[:7]
            if status == p.QUEUE_FULL:  # backpressure: the same task again shortly
                task = self._pending.get(seq)
                if task is not None:
                    if not self._retry:
                        self._retry_at = time.monotonic() + _QUEUE_FULL_RETRY
                    self._retry.append(task)
                continue
            self._acks.append((session, seq))
            if session == self.session:
                self._resolve(seq, status, payload, worker, host, pid)

    def _on_need_module(self, m):
        module_hash = m[2]
        module = self._modules.get(module_hash)
        if module is None:
            log.warning("the manager asked for module %s, which this boss never sent",
                        module_hash.hex()[:12])
            return
        if len(module.data) + 256 > self.max_message:
            why = ("module %s (%d bytes) is larger than the manager accepts in one message (%d "
                   "bytes)" % (module.path, len(module.data), self.max_message)).encode()
            failed = [seq for seq, t in self._pending.items() if t.module is module]
            for seq in failed:
                self._resolve(seq, p.REJECTED, why, "", "", 0)
            if failed:  # the manager holds them, waiting for the module: let it drop them
                self._send_cancel([(self.session, seq) for seq in failed], None)
            # A BECOME waiting for it would wait for the manager's own limit.
            self._fail_becomes(lambda w: w.module is module, Error(why.decode()))
            return
        message = p.put_module(module_hash, module.platform, module.data)
        if self._no_pieces and len(message) > p.MAX_FRAME_BYTES:
            self._fail_large(self._no_pieces)
            return
        self._send(message)

    def _on_welcome(self, m):
        # A HELLO after a reconnect was answered: bring the manager up to date.
        self._hello_sent_at = None
        self.welcome = m[2]
        self.max_message = self.welcome.get("max_message") or self.max_message
        tasks = sorted(self._pending.values(), key=lambda t: t.record[1])
        for t in tasks:
            t.record[8] |= p.FLAG_RESUBMITTED
        self._send_tasks(tasks)
        self._cancelled = [i for i in self._cancelled if i[1] in self._pending]
        if self._cancelled:
            self._send_cancel(self._cancelled, None)
        if tasks:
            log.info("reconnected: resubmitted %d unfinished task(s)", len(tasks))

    def _on_notice(self, m):
        self._on_notice(m[2])

    def _on_status_reply(self, m):
        if self._status_waiters:
            waiter = self._status_waiters.popleft()
            if not waiter.done():
                waiter.set_result(m[2])

    def _on_service_started(self, m):
        flat = m[2]
        for i in range(0, len(flat) - 1, 2):
            if flat[i] != self.session:
                continue
            task = self._pending.get(flat[i + 1])
            if task is not None and task.on_started is not None:
                task.on_started()

    def _on_become_reply(self, m):
        number, session, seq, ok, text, handover_ns, becomes = m[2:9]
        waiter = self._become_waiters.pop(number, None)
        if waiter is None:
            log.debug("a become reply nobody waits for (its request failed): dropped")
            return
        if not waiter.reply.done():
            waiter.reply.set_result((bool(ok), text, handover_ns, becomes))

    def _on_cancel_reply(self, m):
        if self._cancel_waiters:
            waiter = self._cancel_waiters.popleft()
            if waiter is not None and not waiter.done():
                waiter.set_result([(s, q, state) for s, q, state in m[2]])

    def _on_error(self, m):
        code, text = m[2], m[3]
        if code == "hello-required":
            # Every message sent before a restarted manager saw our HELLO earns
            # one such error; one HELLO a second answers them all.
            if self._hello_sent_at is None or time.monotonic() - self._hello_sent_at > 1.0:
                self._say_hello()
            # BECOMEs sent before that HELLO were dropped unanswered.
            hellos = self._hellos
            self._fail_becomes(lambda w: w.hellos < hellos, ConnectError(
                "unreachable", "the manager restarted before it answered the become request"
                + _BECOME_LOST))
            return
        if code == "refused" and self._on_refused(text, m[4] if len(m) > 4 else None):
            return
        if code == "malformed" and "unknown message type" in text and self._sent_in_pieces:
            # A manager older than CHUNK (docs/protocol.md) answers each piece
            # so: what went in pieces never arrives, and its tasks would wait
            # for ever. They fail instead, saying why, and so does what follows.
            if self._no_pieces is None:
                self._no_pieces = (
                    "the manager at %s does not read messages larger than %d KiB, which go in "
                    "pieces (CHUNK): it is older than this client; run a manager of this uni "
                    "release" % (self.endpoint, p.MAX_FRAME_BYTES >> 10))
                log.error("%s", self._no_pieces)
            self._fail_large(self._no_pieces)
            return
        log.error("the manager says: %s", text)

    def _fail_large(self, why):
        """Fails the tasks and becomes whose module or arguments do not fit in a frame."""
        def large(module, args=b""):
            return len(module.data) + 256 > p.MAX_FRAME_BYTES or len(args) + 256 > p.MAX_FRAME_BYTES
        failed = [seq for seq, t in self._pending.items() if large(t.module, t.record[4])]
        for seq in failed:
            self._resolve(seq, p.REJECTED, why.encode(), "", "", 0)
        if failed:  # the manager may hold them, waiting for the module: let it drop them
            self._send_cancel([(self.session, seq) for seq in failed], None)
        self._fail_becomes(lambda w: large(w.module), Error(why))

    def _on_refused(self, text, about):
        """Fails what waits for the refused request (docs/protocol.md, ERROR);
        False if nothing did."""
        kind, number = (about[0], about[1]) if about else (p.HELLO, 0)
        error = RefusedError(text)
        if kind == p.STATUS and self._status_waiters:
            waiter = self._status_waiters.popleft()
        elif kind == p.CANCEL and self._cancel_waiters:
            waiter = self._cancel_waiters.popleft()  # replies, and refusals, come in order
        elif kind == p.BECOME and number in self._become_waiters:
            waiter = self._become_waiters.pop(number).reply
        elif kind == p.HELLO:  # this boss may not go on: everything waiting fails
            self._fail_becomes(lambda w: True, error)
            for waiters in (self._status_waiters, self._cancel_waiters):
                while waiters:
                    w = waiters.popleft()
                    if w is not None and not w.done():
                        w.set_exception(error)
            for seq in list(self._pending):
                self._resolve(seq, p.STATUS_NAMES.index("refused"), text.encode(), "", "", 0)
            return False
        else:
            return False
        if waiter is not None and not waiter.done():
            waiter.set_exception(error)
        return True

    def _on_bye(self, m):
        log.warning("the manager is going away (%s); waiting for it to come back", m[2])

    _HANDLERS = {
        p.RESULT: _on_result,
        p.NEED_MODULE: _on_need_module,
        p.WELCOME: _on_welcome,
        p.NOTICE: _on_notice,
        p.STATUS_REPLY: _on_status_reply,
        p.CANCEL_REPLY: _on_cancel_reply,
        p.SERVICE_STARTED: _on_service_started,
        p.BECOME_REPLY: _on_become_reply,
        p.ERROR: _on_error,
        p.BYE: _on_bye,
        p.HEARTBEAT: lambda self, m: None,
    }
