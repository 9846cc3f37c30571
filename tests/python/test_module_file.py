"""uni.ModuleFile reads what `uni inspect --json` reads (hash, platform, every
function with its signature and type descriptors), without loading the
module, and refuses non-modules with the C++ side's words."""

import json
import os
import subprocess
import tempfile
import unittest

from support import UNI, module

import uni


class ModuleFileAgreesWithInspect(unittest.TestCase):
    def test_same_description_as_uni_inspect(self):
        for name in ("testfns", "factorial", "conformance", "load_crash"):
            path = module(name)
            inspected = json.loads(subprocess.run([UNI, "inspect", "--json", path], check=True,
                                                  capture_output=True, text=True).stdout)
            mine = uni.ModuleFile(path)
            self.assertEqual(mine.hex, inspected["hash"])
            self.assertEqual(mine.platform, inspected["platform"])
            self.assertEqual(len(mine.data), inspected["size"])
            described = [{"name": e.name, "signature": e.signature, "result": e.result.text,
                          "params": [p.text for p in e.params]} for e in mine.exports.values()]
            self.assertEqual(described, inspected["functions"])

    def test_non_modules_are_refused(self):
        with tempfile.TemporaryDirectory() as d:
            text = os.path.join(d, "t.so")
            with open(text, "w") as f:
                f.write("text")
            with self.assertRaisesRegex(uni.ModuleError, "t.so is not an ELF file"):
                uni.ModuleFile(text)
            with self.assertRaisesRegex(uni.ModuleError, "cannot open module"):
                uni.ModuleFile(os.path.join(d, "absent.so"))
            with self.assertRaisesRegex(uni.ModuleError, "is not a uni module"):
                uni.ModuleFile("/lib/x86_64-linux-gnu/libz.so.1" if os.path.exists(
                    "/lib/x86_64-linux-gnu/libz.so.1") else UNI)
            with open(module("factorial"), "rb") as f:
                data = f.read()
            for cut in (10, 100, len(data) // 2, len(data) - 1):
                with open(text, "wb") as f:
                    f.write(data[:cut])
                with self.assertRaises(uni.ModuleError):
                    uni.ModuleFile(text)

    def test_a_module_is_read_not_run(self):
        # load_crash segfaults when loaded; reading it is harmless.
        self.assertIn("twice", uni.ModuleFile(module("load_crash")).exports)


if __name__ == "__main__":
    unittest.main()
