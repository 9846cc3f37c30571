"""Paths of this build (set by ctest: UNI_BIN, UNI_MODULE_DIR) and the cluster harness."""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "conformance"))
sys.path.insert(0, os.path.join(HERE, "..", "..", "python"))

UNI = os.environ.get("UNI_BIN", os.path.join(HERE, "..", "..", "build", "bin", "uni"))
MODULES = os.environ.get("UNI_MODULE_DIR", os.path.join(HERE, "..", "..", "build", "modules"))


def module(name):
    return os.path.join(MODULES, "lib%s.so" % name)
