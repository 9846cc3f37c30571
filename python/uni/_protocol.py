"""Message types, status codes and encoders of the uni wire protocol, version 1
(docs/protocol.md). Every message is one msgpack array [type, version, ...]
sent as a single ZeroMQ frame, or, when larger than a frame, as a run of
CHUNK messages (§4.1)."""

import msgpack

VERSION = 1

HELLO, WELCOME, ERROR, HEARTBEAT, SUBMIT, NEED_MODULE, PUT_MODULE, RESULT, ACK = range(1, 10)
CANCEL, CANCEL_REPLY, STATUS, STATUS_REPLY, TASKS, FETCH_MODULE, MODULE, CREDIT = range(10, 18)
NOTICE, BYE, SERVICE_STARTED, BECOME, BECOME_REPLY = range(18, 23)
CHUNK = 25

# Result status codes (docs/protocol.md §9.1), by their wire names.
STATUS_NAMES = ("ok", "exception", "bad-arguments", "unknown-function", "module-error",
                "crashed", "timed-out", "cancelled", "no-worker", "rejected", "handed-back",
                "queue-full", "refused")
OK, QUEUE_FULL = 0, 11
REJECTED = 9

# Task flags (§9.2).
FLAG_SERVICE, FLAG_DETACHED, FLAG_RESUBMITTED, FLAG_STARTED_EVENT = 1, 2, 4, 8

# The largest frame the manager reads (proto::kMaxFrameBytes): a larger
# message goes out in CHUNKs of at most CHUNK_PIECE_BYTES of it each.
MAX_FRAME_BYTES = 64 << 10
CHUNK_PIECE_BYTES = MAX_FRAME_BYTES - 16

# Batches of tasks are cut at this many bytes (proto::kPeerBatchBytes): one frame.
BATCH_BYTES = MAX_FRAME_BYTES
# Task ids per ACK at most, so that an ACK fits in a frame (18 bytes an id).
ACK_IDS = MAX_FRAME_BYTES // 18 - 1

# Unpacking: the manager's str fields as str; map keys of any type (a result may
# be a std::map<int, ...>); bytes that are not UTF-8 survive in str as
# surrogates and are packed back unchanged.
_UNPACK = dict(raw=False, strict_map_key=False, unicode_errors="surrogateescape")


def pack(value):
    return msgpack.packb(value, use_bin_type=True, unicode_errors="surrogateescape")


def unpack(data):
    try:
        return msgpack.unpackb(data, **_UNPACK)
    except TypeError:  # an array used as a map key: arrays become tuples
        return msgpack.unpackb(data, use_list=False, **_UNPACK)


def frames(message):
    """The frames `message` travels as: itself, or its CHUNKs [25, 1, more, piece]."""
    if len(message) <= MAX_FRAME_BYTES:
        return [message]
    view = memoryview(message)
    return [pack([CHUNK, VERSION, at + CHUNK_PIECE_BYTES < len(message),
                  view[at:at + CHUNK_PIECE_BYTES]])
            for at in range(0, len(message), CHUNK_PIECE_BYTES)]


def hello(session, secret=None):
    """A boss's HELLO; `secret` (bytes) resumes the session only for its holder."""
    info = {"session": session}
    if secret:
        info["secret"] = secret
    return pack([HELLO, VERSION, "boss", info])


def heartbeat():
    return pack([HEARTBEAT, VERSION])


def submit(records):
    return pack([SUBMIT, VERSION, records])


def put_module(module_hash, platform, data):
    return pack([PUT_MODULE, VERSION, module_hash, platform, data])


def ids_message(kind, ids):
    """ACK or CANCEL: a flat array session1, seq1, session2, seq2, ..."""
    flat = []
    for session, seq in ids:
        flat.append(session)
        flat.append(seq)
    return pack([kind, VERSION, flat])


def become(request, session, seq, module_hash, function, timeout_ms):
    """BECOME (§7.21): service (session, seq) is to take on `function` of the module."""
    return pack([BECOME, VERSION, request, session, seq, module_hash, function, timeout_ms])


def status_request():
    return pack([STATUS, VERSION])


def bye(reason):
    return pack([BYE, VERSION, reason])


def task_id_text(session, seq):
    """The printed form of a task id, as `uni stop` takes it."""
    return "%016x-%d" % (session, seq)


def parse_task_id(text):
    """(session, seq) from "1f2e3d4c5b6a7988-1"; ValueError if it is not one."""
    session, dash, seq = text.partition("-")
    if not dash or len(session) != 16 or not seq.isdigit():
        raise ValueError("not a task id: %r" % text)
    return int(session, 16), int(seq)
