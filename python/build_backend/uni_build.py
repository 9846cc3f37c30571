"""A minimal PEP 517 build backend for the uni package: a wheel is a zip of
uni/*.py plus its .dist-info. In the tree so that `pip install ./python`
works offline, without fetching setuptools into pip's build environment."""

import base64
import hashlib
import os
import zipfile

NAME, VERSION = "uni", "0.1.0"
_HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_DIST_INFO = "%s-%s.dist-info" % (NAME, VERSION)
_METADATA = """Metadata-Version: 2.1
Name: uni
Version: %s
Summary: Python client of the uni cluster runtime
Requires-Python: >=3.9
""" % VERSION
_WHEEL = "Wheel-Version: 1.0\nGenerator: uni_build\nRoot-Is-Purelib: true\nTag: py3-none-any\n"


def _record_line(name, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return "%s,sha256=%s,%d" % (name, digest, len(data))


def _files():
    package = os.path.join(_HERE, NAME)
    for entry in sorted(os.listdir(package)):
        if entry.endswith(".py"):
            with open(os.path.join(package, entry), "rb") as f:
                yield "%s/%s" % (NAME, entry), f.read()


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    filename = "%s-%s-py3-none-any.whl" % (NAME, VERSION)
    records = []
    with zipfile.ZipFile(os.path.join(wheel_directory, filename), "w",
                         zipfile.ZIP_DEFLATED) as wheel:
        contents = list(_files()) + [(_DIST_INFO + "/METADATA", _METADATA.encode()),
                                     (_DIST_INFO + "/WHEEL", _WHEEL.encode())]
        for name, data in contents:
            wheel.writestr(name, data)
            records.append(_record_line(name, data))
        records.append(_DIST_INFO + "/RECORD,,")
        wheel.writestr(_DIST_INFO + "/RECORD", "\n".join(records) + "\n")
    return filename


def get_requires_for_build_wheel(config_settings=None):
    return []


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    os.makedirs(os.path.join(metadata_directory, _DIST_INFO), exist_ok=True)
    for name, text in (("METADATA", _METADATA), ("WHEEL", _WHEEL)):
        with open(os.path.join(metadata_directory, _DIST_INFO, name), "w") as f:
            f.write(text)
    return _DIST_INFO
