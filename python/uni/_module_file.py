"""A module file read the way a boss reads it before shipping it: its bytes,
BLAKE2b-256 hash, platform tag (.uni_platform) and function descriptions
(.uni_exports), from the ELF tables alone. No module code runs.

Mirrors src/common/module_file.cpp; the formats are in docs/protocol.md §15.
Every offset read from the file is bounds-checked: the input is untrusted.
"""

import hashlib
import struct

from ._types import parse_type
from .errors import ModuleError

_PLATFORM_SECTION = b".uni_platform"
_EXPORTS_SECTION = b".uni_exports"
_ENTRY_SYMBOL = b"uni_module_v1"
_RECORD_MAGIC = b"uni-export-v1"

_EHDR = struct.Struct("<16sHHIQQQIHHHHHH")  # Elf64_Ehdr
_PHDR = struct.Struct("<IIQQQQQQ")  # Elf64_Phdr
_SHDR = struct.Struct("<IIQQQQIIQQ")  # Elf64_Shdr
_SYM = struct.Struct("<IBBHQQ")  # Elf64_Sym
_ET_DYN, _PT_INTERP = 3, 3
_SHT_PROGBITS, _SHT_DYNSYM = 1, 11
_STT_FUNC, _SHN_UNDEF = 2, 0


class ExportDescription:
    """One function as UNI_EXPORT recorded it: name, signature text, and the
    parsed type descriptors of its result and parameters (uni._types)."""

    __slots__ = ("name", "signature", "result", "params")

    def __init__(self, name, signature, result, params):
        self.name, self.signature, self.result, self.params = name, signature, result, params

    def __repr__(self):
        return "<function %s>" % self.signature


class ModuleFile:
    """path, data (bytes), hash (32 bytes), hex, platform (str), and exports: a
    dict name -> ExportDescription, or None for a module built before
    .uni_exports existed."""

    def __init__(self, path):
        self.path = path
        try:
            with open(path, "rb") as f:
                self.data = f.read()
        except IsADirectoryError:
            raise ModuleError("cannot read %s: it is a directory" % path) from None
        except OSError as e:
            raise ModuleError("cannot open module %s: %s" % (path, e.strerror)) from None
        image = _Image(self.data, path)
        self.platform = image.check()
        self.exports = image.exports()
        self.hash = hashlib.blake2b(self.data, digest_size=32).digest()
        self.hex = self.hash.hex()


def _c_string(table, offset):
    if offset >= len(table):
        return b""
    end = table.find(b"\0", offset)
    return table[offset:] if end < 0 else table[offset:end]


class _Image:
    def __init__(self, data, name):
        self.data, self.name = data, name

    def fail(self, what):
        raise ModuleError("%s %s" % (self.name, what))

    def truncated(self):
        self.fail("is not a valid ELF file (truncated or corrupt)")

    def read(self, layout, offset):
        if offset > len(self.data) or len(self.data) - offset < layout.size:
            self.truncated()
        return layout.unpack_from(self.data, offset)

    def range(self, offset, size):
        if offset > len(self.data) or len(self.data) - offset < size:
            self.truncated()
        return self.data[offset : offset + size]

    def check(self):
        data = self.data
        if len(data) < 4 or data[:4] != b"\x7fELF":
            self.fail("is not an ELF file (not a shared object)")
        if len(data) < _EHDR.size or data[4] != 2:
            self.fail("is not a 64-bit ELF file")
        (_, e_type, _, _, _, phoff, shoff, _, _, phentsize, phnum, shentsize, shnum, shstrndx) = (
            _EHDR.unpack_from(data, 0)
        )
        if e_type != _ET_DYN:
            self.fail("is not a shared object (ELF type is not ET_DYN)")
        for i in range(phnum):
            if self.read(_PHDR, phoff + i * phentsize)[0] == _PT_INTERP:
                self.fail("is an executable, not a shared object")
        if shentsize != _SHDR.size:
            self.truncated()
        self.shoff, self.shnum = shoff, shnum
        names = self.section_header(shstrndx)
        self.names = self.range(names[4], names[5])
        has_entry, seen_dynsym, platform = False, False, None
        for i in range(shnum):
            sh = self.section_header(i)
            if platform is None and sh[1] == _SHT_PROGBITS and self.name_of(sh) == _PLATFORM_SECTION:
                platform = _c_string(self.range(sh[4], sh[5]), 0)
            if sh[1] != _SHT_DYNSYM or seen_dynsym:
                continue
            seen_dynsym = True
            link = self.section_header(sh[6])
            strings = self.range(link[4], link[5])
            symbols = self.range(sh[4], sh[5])
            for off in range(0, len(symbols) - _SYM.size + 1, _SYM.size):
                st_name, st_info, _, st_shndx, _, _ = _SYM.unpack_from(symbols, off)
                if (st_shndx != _SHN_UNDEF and st_info & 0xF == _STT_FUNC
                        and _c_string(strings, st_name) == _ENTRY_SYMBOL):
                    has_entry = True
        if not has_entry:
            self.fail("is not a uni module (it does not export uni_module_v1; include "
                      "<uni/module.hpp> and mark functions with UNI_EXPORT)")
        if not platform:
            self.fail("has no .uni_platform section (built with an older uni/module.hpp?)")
        return platform.decode("utf-8", "replace")

    def section_header(self, index):
        if index >= self.shnum:
            self.truncated()
        return self.read(_SHDR, self.shoff + index * _SHDR.size)

    def name_of(self, sh):
        return _c_string(self.names, sh[0])

    def exports(self):
        section = None
        for i in range(self.shnum):
            sh = self.section_header(i)
            if sh[1] == _SHT_PROGBITS and self.name_of(sh) == _EXPORTS_SECTION:
                section = self.range(sh[4], sh[5])
                break
        if section is None:
            return None
        out = {}
        for record in section.split(b"\0"):  # NUL padding between records is skipped
            if not record:
                continue
            lines = record.split(b"\n")
            if lines[0] != _RECORD_MAGIC:
                continue  # another format version
            if len(lines) < 4 or not all(lines[1:]):
                self.fail("has a malformed .uni_exports record: %r" % record[:200])
            try:
                text = [line.decode("utf-8") for line in lines[1:]]
                result = parse_type(text[2])
                params = [parse_type(t) for t in text[3:]]
            except (UnicodeDecodeError, ValueError) as e:
                self.fail("has a malformed .uni_exports record: %s" % e)
            out[text[0]] = ExportDescription(text[0], text[1], result, params)
        return dict(sorted(out.items()))
