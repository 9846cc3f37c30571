"""uni._keys: the documented test vector, the lookup order of the CLI, and a
derived-key cache shared with the C++ side (same file name, same bytes, mode
0600 in a 0700 directory)."""

import os
import stat
import subprocess
import tempfile
import unittest
from unittest import mock

from support import UNI

from uni import _keys


class Keys(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.env = mock.patch.dict(os.environ, {"UNI_CONFIG_DIR": self.dir.name + "/cfg"})
        self.env.start()
        os.environ.pop("UNI_AUTHKEY", None)

    def tearDown(self):
        self.env.stop()
        self.dir.cleanup()

    def test_vector_of_docs_security(self):
        keys = _keys.derive_curve_keys(b"abc")
        self.assertEqual(keys.server_public.hex(),
                         "b55923db5e9945351cae500a64c1461dfb872b1273a16748b7e4a2a8c326dd55")
        self.assertEqual(keys.client_public.hex(),
                         "8a6bb71763c4ebc89253c3912b3c5efab7bba23048ad4d57edb4b1110aa38332")

    def test_cache_is_the_one_the_cli_writes(self):
        cli_dir = self.dir.name + "/cli"
        # `uni status` derives (and caches) the keys before it fails to connect.
        subprocess.run([UNI, "status", "--connect", "tcp://127.0.0.1:1"], capture_output=True,
                       env=dict(os.environ, UNI_CONFIG_DIR=cli_dir, UNI_AUTHKEY="abc"), timeout=30)
        [name] = os.listdir(cli_dir + "/derived")
        _keys.derive_curve_keys(b"abc")
        mine = os.environ["UNI_CONFIG_DIR"] + "/derived/"
        self.assertEqual(os.listdir(mine), [name])
        with open(mine + name, "rb") as a, open(cli_dir + "/derived/" + name, "rb") as b:
            self.assertEqual(a.read(), b.read())
        self.assertEqual(stat.S_IMODE(os.stat(mine + name).st_mode), 0o600)
        self.assertEqual(stat.S_IMODE(os.stat(mine).st_mode), 0o700)
        # A cached file is used as is (no derivation); one of the wrong size is not.
        with open(mine + name, "wb") as f:
            f.write(bytes(range(128)))
        self.assertEqual(_keys.derive_curve_keys(b"abc").client_public, bytes(range(64, 96)))
        with open(mine + name, "wb") as f:
            f.write(b"short")
        self.assertEqual(_keys.derive_curve_keys(b"abc").server_public.hex()[:8], "b55923db")

    def test_lookup_order(self):
        default = _keys.default_authkey_path()
        os.makedirs(os.path.dirname(default))
        with open(default, "w") as f:
            f.write("from-default\n")
        self.assertEqual(_keys.find_authkey(), b"from-default")
        os.environ["UNI_AUTHKEY"] = "from-env"
        self.assertEqual(_keys.find_authkey(), b"from-env")
        keyfile = self.dir.name + "/key"
        with open(keyfile, "w") as f:
            f.write("from-file\r\n")
        self.assertEqual(_keys.find_authkey(authkey_file=keyfile), b"from-file")
        self.assertEqual(_keys.find_authkey("explicit", keyfile), b"explicit")
        with open(keyfile, "w") as f:
            f.write("\n")
        with self.assertRaisesRegex(ValueError, "is empty"):
            _keys.find_authkey(authkey_file=keyfile)


if __name__ == "__main__":
    unittest.main()
