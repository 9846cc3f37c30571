"""Type descriptors of exported functions (docs/protocol.md §15.5) and the
argument check built from them.

The check runs in the boss before a task is sent and reports a mismatch with
the words the worker would use (include/uni/detail/types.hpp), so that a
Python caller and `uni run` see the same message:
"add: argument 2: expected integer, got string (signature: int add(int, int))".
"""

__all__ = ["Type", "parse_type", "make_checker", "make_result_converter", "kind_name"]


class Type:
    """A parsed descriptor. kind: void, bool, int, float, string, vector, array,
    map, optional, tuple, user. For int: bits, signed and cpp (the C++ name);
    for float: bits and cpp; for containers: args (element types) and, for
    array, size; for user: name."""

    __slots__ = ("kind", "bits", "signed", "cpp", "args", "size", "name", "text")

    def __init__(self, kind, text, bits=0, signed=False, cpp="", args=(), size=0, name=""):
        self.kind, self.text, self.bits, self.signed, self.cpp = kind, text, bits, signed, cpp
        self.args, self.size, self.name = tuple(args), size, name

    def __repr__(self):
        return "Type(%s)" % self.text

    def __eq__(self, other):
        return isinstance(other, Type) and self.text == other.text

    def __hash__(self):
        return hash(self.text)


def parse_type(text):
    """Parses one descriptor; raises ValueError naming what is wrong."""
    t, end = _parse(text, 0)
    if end != len(text):
        raise ValueError("unexpected %r after a type in %r" % (text[end:], text))
    return t


def _parse(text, pos):
    start = pos
    while pos < len(text) and text[pos] not in "<>,":  # C++ names ("i32:int") hold none
        pos += 1
    head = text[start:pos]
    if not head:
        raise ValueError("missing type at offset %d of %r" % (start, text))
    word, _, cpp = head.partition(":")
    if word in ("void", "bool", "string"):
        return Type(word, head), pos
    if word[:1] in ("i", "u") and word[1:] in ("8", "16", "32", "64") and cpp:
        return Type("int", head, bits=int(word[1:]), signed=word[0] == "i", cpp=cpp), pos
    if word[:1] == "f" and word[1:].isdigit() and cpp:
        return Type("float", head, bits=int(word[1:]), cpp=cpp), pos
    if pos >= len(text) or text[pos] != "<":
        raise ValueError("unknown type %r in %r" % (head, text))
    pos += 1
    if word == "user":
        length, colon, _ = text[pos:].partition(":")
        if not colon or not length.isdigit():
            raise ValueError("malformed user type in %r" % text)
        begin = pos + len(length) + 1
        name = text[begin : begin + int(length)]
        end = begin + int(length)
        if len(name) != int(length) or text[end : end + 1] != ">":
            raise ValueError("malformed user type in %r" % text)
        return Type("user", text[start : end + 1], name=name), end + 1
    args = []
    size = None
    if not (word == "tuple" and text[pos : pos + 1] == ">"):
        while True:
            if word == "array" and len(args) == 1:
                digits_end = pos
                while digits_end < len(text) and text[digits_end].isdigit():
                    digits_end += 1
                if digits_end == pos:
                    raise ValueError("array without a size in %r" % text)
                size = int(text[pos:digits_end])
                pos = digits_end
            else:
                arg, pos = _parse(text, pos)
                args.append(arg)
            if pos < len(text) and text[pos] == ",":
                pos += 1
                continue
            break
    if pos >= len(text) or text[pos] != ">":
        raise ValueError("unclosed %s< in %r" % (word, text))
    pos += 1
    expected = {"vector": 1, "optional": 1, "map": 2, "array": 1}.get(word)
    if word != "tuple" and (expected is None or len(args) != expected
                            or (word == "array") != (size is not None)):
        raise ValueError("malformed %s<...> in %r" % (word, text))
    return Type(word, text[start:pos], args=args, size=size or 0), pos


# ---- the argument check --------------------------------------------------------------

_KINDS = {type(None): "nil", bool: "boolean", int: "integer", float: "float", str: "string",
          bytes: "binary", bytearray: "binary", memoryview: "binary", list: "array",
          tuple: "array", dict: "map"}


def kind_name(value):
    """What a Python value becomes on the wire, in the words of an error message."""
    kind = _KINDS.get(type(value))
    if kind is None:
        for base, name in _KINDS.items():
            if isinstance(value, base):
                return name
        return "a Python %s, which cannot be sent" % type(value).__name__
    return kind


class Mismatch(Exception):
    """An argument that does not fit its parameter; str() is the worker's wording."""


def _mismatch(expected, value):
    raise Mismatch("expected %s, got %s" % (expected, kind_name(value)))


def _sequence(value):
    return type(value) in (list, tuple) or (
        isinstance(value, (list, tuple)) and not isinstance(value, (str, bytes)))


def make_converter(t):
    """A function value -> value to send; raises Mismatch with the worker's words."""
    kind = t.kind
    if kind == "user":
        return lambda v: v
    if kind == "bool":
        def check_bool(v):
            if v is True or v is False:
                return v
            _mismatch("boolean", v)
        return check_bool
    if kind == "int":
        low = -(1 << (t.bits - 1)) if t.signed else 0
        high = (1 << (t.bits - 1)) - 1 if t.signed else (1 << t.bits) - 1
        fits = "expected integer that fits %s, got " % t.cpp

        def check_int(v):
            if type(v) is int or (isinstance(v, int) and not isinstance(v, bool)):
                if low <= v <= high:
                    return v
                raise Mismatch(fits + str(v))
            _mismatch("integer", v)
        return check_int
    if kind == "float":
        def check_float(v):
            if type(v) is float:
                return v
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                return float(v)  # as the C++ boss sends it: 2 for a double travels as 2.0
            _mismatch("number", v)
        return check_float
    if kind == "string":
        def check_string(v):
            if isinstance(v, (str, bytes, bytearray)):
                return v
            _mismatch("string", v)
        return check_string
    if kind == "optional":
        inner = make_converter(t.args[0])
        return lambda v: None if v is None else inner(v)
    if kind == "vector":
        element = make_converter(t.args[0])
        bytes_ok = t.args[0].kind == "int" and t.args[0].bits == 8

        def check_vector(v):
            if bytes_ok and isinstance(v, (bytes, bytearray)):
                return v
            if not _sequence(v):
                _mismatch("array", v)
            return [_element(element, x, i) for i, x in enumerate(v, 1)]
        return check_vector
    if kind in ("array", "tuple"):
        elements = [make_converter(a) for a in t.args] if kind == "tuple" else None
        element = make_converter(t.args[0]) if kind == "array" else None
        n = t.size if kind == "array" else len(t.args)

        def check_fixed(v):
            if not _sequence(v) or len(v) != n:
                got = "array of %d" % len(v) if _sequence(v) else kind_name(v)
                raise Mismatch("expected array of %d elements, got %s" % (n, got))
            if element is not None:
                return [_element(element, x, i) for i, x in enumerate(v, 1)]
            return [_element(c, x, i) for i, (c, x) in enumerate(zip(elements, v), 1)]
        return check_fixed
    if kind == "map":
        key_of, value_of = make_converter(t.args[0]), make_converter(t.args[1])

        def check_map(v):
            if not isinstance(v, dict):
                _mismatch("map", v)
            out = {}
            for i, (k, x) in enumerate(v.items(), 1):
                try:
                    k = key_of(k)
                except Mismatch as e:
                    raise Mismatch("key %d: %s" % (i, e)) from None
                try:
                    out[_hashable(k)] = value_of(x)
                except Mismatch as e:
                    raise Mismatch("value %d: %s" % (i, e)) from None
            return out
        return check_map
    raise ValueError("no argument of type %s" % t.text)


def _hashable(k):
    return tuple(k) if isinstance(k, list) else k


def _element(convert, value, index):
    try:
        return convert(value)
    except Mismatch as e:
        raise Mismatch("element %d: %s" % (index, e)) from None


def make_checker(name, signature, params):
    """A function args-tuple -> list of values to send. Raises Mismatch with the
    whole message the worker would give: "NAME: argument 2: ... (signature: SIG)"."""
    converters = [make_converter(p) for p in params]
    n = len(converters)
    plural = "argument" if n == 1 else "arguments"
    suffix = " (signature: %s)" % signature

    def check(args):
        if len(args) != n:
            raise Mismatch("%s: expected %d %s, got %d%s" % (name, n, plural, len(args), suffix))
        out = []
        for i, (convert, value) in enumerate(zip(converters, args), 1):
            try:
                out.append(convert(value))
            except Mismatch as e:
                raise Mismatch("%s: argument %d: %s%s" % (name, i, e, suffix)) from None
        return out
    return check


def make_result_converter(t):
    """None when results need no change; else a function that turns the arrays
    of tuple<...> (std::tuple, std::pair) into Python tuples."""
    if not _has_tuple(t):
        return None

    def convert(t, v):
        if v is None:
            return v
        k = t.kind
        if k == "tuple" and isinstance(v, list) and len(v) == len(t.args):
            return tuple(convert(a, x) for a, x in zip(t.args, v))
        if k in ("vector", "array") and isinstance(v, list):
            return [convert(t.args[0], x) for x in v]
        if k == "optional":
            return convert(t.args[0], v)
        if k == "map" and isinstance(v, dict):
            return {k2: convert(t.args[1], x) for k2, x in v.items()}
        return v
    return lambda v: convert(t, v)


def _has_tuple(t):
    return t.kind == "tuple" or any(_has_tuple(a) for a in t.args)
