"""The authkey, found as the uni CLI finds it, and the CURVE keys derived from it.

Mirrors src/common/keys.cpp and docs/security.md §3: Argon2id over the authkey
with a fixed salt gives two seeds; the manager's and the clients' keypairs are
crypto_box_seed_keypair of each. The derived keys are cached in the same file
the C++ side uses (<config dir>/derived/<name>.keys), so a Python client and
the CLI pay the key derivation once between them.
"""

import hashlib
import os
import tempfile

import nacl.bindings
import nacl.pwhash

# Fixed and public (docs/security.md): it only separates uni's use of the authkey.
SALT = b"uni.authkey.v1\x00\x00"
_OPSLIMIT = 2  # crypto_pwhash_OPSLIMIT_INTERACTIVE
_MEMLIMIT = 67108864  # crypto_pwhash_MEMLIMIT_INTERACTIVE (64 MiB)


class CurveKeys:
    """Raw 32-byte CURVE keys: the manager's public key and the client keypair.
    owner_tag: a key file's owner tag (its first four bytes), which begins
    every session of its bosses; None for the shared authkey's keys."""

    __slots__ = ("server_public", "server_secret", "client_public", "client_secret", "owner_tag")

    def __init__(self, blob):
        self.server_public = blob[0:32]
        self.server_secret = blob[32:64]
        self.client_public = blob[64:96]
        self.client_secret = blob[96:128]
        self.owner_tag = None


def find_key_file(key=None):
    """The client key file to use: `key`, else $UNI_KEY, else None."""
    return os.fspath(key) if key else (os.environ.get("UNI_KEY") or None)


def read_client_key(path):
    """A key file written by `uni keygen` (NAME.secret), as CurveKeys. Raises
    OSError if it cannot be read, ValueError if it is not a key file or others
    than its owner may read it (as ssh refuses such a private key)."""
    import zmq.utils.z85
    with open(path, "rb") as f:
        mode = os.fstat(f.fileno()).st_mode
        if mode & 0o077:
            raise ValueError("%s may be read by others than its owner (mode %04o): run chmod "
                             "%04o %s" % (path, mode & 0o7777, mode & 0o700, path))
        text = f.read().decode("ascii", "replace")
    fields = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            words = line.split()
            if len(words) != 2:
                raise ValueError("%s is not a uni key file (made by uni keygen)" % path)
            fields[words[0]] = words[1]
    try:
        raw = {name: zmq.utils.z85.decode(fields[name].encode())
               for name in ("public", "secret", "manager")}
    except (KeyError, ValueError) as e:
        raise ValueError("%s is not a uni key file (made by uni keygen): %s" % (path, e)) from None
    if nacl.bindings.crypto_scalarmult_base(raw["secret"]) != raw["public"]:
        raise ValueError("%s: its public and secret keys do not belong together" % path)
    keys = CurveKeys(raw["manager"] + bytes(32) + raw["public"] + raw["secret"])
    keys.owner_tag = int.from_bytes(raw["public"][:4], "big")
    return keys


def config_dir():
    """$UNI_CONFIG_DIR, else $XDG_CONFIG_HOME/uni, else ~/.config/uni."""
    if os.environ.get("UNI_CONFIG_DIR"):
        return os.environ["UNI_CONFIG_DIR"]
    if os.environ.get("XDG_CONFIG_HOME"):
        return os.path.join(os.environ["XDG_CONFIG_HOME"], "uni")
    home = os.environ.get("HOME")
    if not home:
        raise RuntimeError("cannot find the uni config directory: HOME is not set")
    return os.path.join(home, ".config", "uni")


def default_authkey_path():
    return os.path.join(config_dir(), "authkey")


def _read_key_file(path):
    with open(path, "rb") as f:
        key = f.read().rstrip(b"\r\n")
    if not key:
        raise ValueError("authkey file %s is empty" % path)
    return key


def _as_bytes(value):
    return value.encode() if isinstance(value, str) else bytes(value)


def find_authkey(authkey=None, authkey_file=None):
    """The authkey as bytes, first match wins: the argument, the file, $UNI_AUTHKEY,
    the default key file. None if there is none. Raises OSError/ValueError for an
    unreadable or empty file."""
    if authkey:
        return _as_bytes(authkey)
    if authkey_file:
        return _read_key_file(authkey_file)
    if os.environ.get("UNI_AUTHKEY"):
        return os.environb[b"UNI_AUTHKEY"]
    path = default_authkey_path()
    if os.path.exists(path):
        return _read_key_file(path)
    return None


def _cache_path(authkey):
    name = hashlib.blake2b(authkey, digest_size=16, key=SALT).hexdigest()
    return os.path.join(config_dir(), "derived", name + ".keys")


def _derive(authkey):
    seeds = nacl.pwhash.argon2id.kdf(64, authkey, SALT, opslimit=_OPSLIMIT, memlimit=_MEMLIMIT)
    server_public, server_secret = nacl.bindings.crypto_box_seed_keypair(seeds[:32])
    client_public, client_secret = nacl.bindings.crypto_box_seed_keypair(seeds[32:])
    return server_public + server_secret + client_public + client_secret


def _write_private(path, data):
    """Writes `data` to `path` atomically, mode 0600, in a directory created 0700."""
    directory = os.path.dirname(path)
    missing = []
    parent = directory
    while parent and not os.path.isdir(parent):
        missing.append(parent)
        parent = os.path.dirname(parent)
    for d in reversed(missing):  # each created 0700, as the C++ side does
        os.mkdir(d, 0o700)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.rename(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def derive_curve_keys(authkey):
    """The four CURVE keys for `authkey` (bytes), from the cache when it holds them."""
    try:
        cached = _cache_path(authkey)
    except RuntimeError:
        cached = None  # no config directory: no cache
    if cached:
        try:
            with open(cached, "rb") as f:
                blob = f.read()
            if len(blob) == 128:
                return CurveKeys(blob)
        except OSError:
            pass
    blob = _derive(authkey)
    if cached:
        try:
            _write_private(cached, blob)
        except OSError:
            pass  # each start derives the keys again; nothing else is lost
    return CurveKeys(blob)
