"""The exceptions uni raises. Every one is a uni.Error."""

__all__ = ["Error", "ConnectError", "RefusedError", "ModuleError", "TaskError", "ArgumentError",
           "UnknownFunctionError", "BecomeError", "WorkerInfo"]

import collections

# Which worker ran a task and the process that ran it (the executor's pid).
WorkerInfo = collections.namedtuple("WorkerInfo", "id host pid")


class Error(Exception):
    """Base of every exception uni raises."""


class ConnectError(Error):
    """The cluster could not be reached or refused this client. reason is
    "unreachable", "auth-failed" or "refused"."""

    def __init__(self, reason, message):
        super().__init__(message)
        self.reason = reason


class RefusedError(Error):
    """The manager refused what was asked: the key this client connected with
    (connect(key=...)) has a role that may not do it, or the task is another
    key's (docs/security.md). The message names the key, its role and what was
    refused. A refused submission is a TaskError of kind "refused" instead."""


class ModuleError(Error):
    """A module file that cannot be shipped: missing, not a shared object, not a
    uni module."""


class TaskError(Error):
    """A task that failed. kind is the wire status name ("exception",
    "bad-arguments", "unknown-function", "module-error", "crashed", "timed-out",
    "cancelled", "no-worker", "rejected", "refused"); message the error text; worker a
    WorkerInfo, or None when no worker ran it."""

    def __init__(self, kind, message, worker=None, task_id=None):
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.worker = worker
        self.task_id = task_id

    def __str__(self):
        return "%s (%s)" % (self.message, self.kind)

    def __reduce__(self):
        return (type(self), (self.kind, self.message, self.worker, self.task_id))


class ArgumentError(TaskError, TypeError):
    """Arguments that do not match the function's signature, found before
    sending (kind "bad-arguments", the worker's wording)."""

    def __init__(self, message, task_id=None):
        super().__init__("bad-arguments", message, None, task_id)

    def __reduce__(self):
        return (type(self), (self.message, self.task_id))


class UnknownFunctionError(TaskError, AttributeError):
    """A function the module does not export, found before sending (kind
    "unknown-function", the worker's wording)."""

    def __init__(self, message, task_id=None):
        super().__init__("unknown-function", message, None, task_id)

    def __reduce__(self):
        return (type(self), (self.message, self.task_id))


class BecomeError(Error):
    """A become (cluster.become) that did not happen; the service runs on as
    before. service is its id, function the new function's name, reason the
    cluster's words (docs/protocol.md §7.21, 7.22): "no service ... is
    running", "unknown function 'f': the module exports ...", "state:
    expected ..., got ...", "... did not hand over within 10 s", ..."""

    def __init__(self, service, function, reason):
        super().__init__("service %s did not become %s: %s" % (service, function, reason))
        self.service = service
        self.function = function
        self.reason = reason

    def __reduce__(self):
        return (type(self), (self.service, self.function, self.reason))
