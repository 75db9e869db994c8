"""The names inside serialized Python bytecode, read without unmarshalling it.

Keras stores a ``Lambda`` layer's function as ``marshal.dumps(code)`` in
base64. ``marshal.loads`` must never see untrusted bytes (a crafted stream
can crash the interpreter, and the code object is one call away from
running), so this module reads the stream as data: a bounded walk over
marshal's type tags (``Python/marshal.c``) that builds no object other than
strings, tuples of them and numbers, and keeps only what a reviewer needs:
the function's name, its file, the global and attribute names it uses
(``os``, ``system``) and its string constants. Any stream this walk does not
understand (another Python's code layout, damage) gives None.
"""
from __future__ import annotations

import base64
import binascii
import struct

MAX_BYTES = 1 << 20   # bytecode larger than this is not read (reported as such)
_MAX_DEPTH = 64
_MAX_ITEMS = 100_000
_FLAG_REF = 0x80


class _Unreadable(Exception):
    pass


class _Code:
    """What is kept of one code object."""

    __slots__ = ("name", "qualname", "filename", "names", "consts")

    def __init__(self):
        self.name = self.qualname = self.filename = None
        self.names: tuple = ()
        self.consts: tuple = ()


class _Reader:
    def __init__(self, data: bytes, ints_before_code: int):
        self.data = data
        self.pos = 0
        self.refs: list = []
        self.items = 0
        self.ints = ints_before_code  # 6 raw ints before the bytecode up to Python 3.10, 5 from 3.11

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise _Unreadable("cut short")
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def u8(self) -> int:
        return self.take(1)[0]

    def i32(self) -> int:
        return struct.unpack("<i", self.take(4))[0]

    def count(self) -> int:
        n = self.i32()
        if n < 0 or n > len(self.data):
            raise _Unreadable("bad length")
        return n

    def read(self, depth: int = 0):
        if depth > _MAX_DEPTH:
            raise _Unreadable("nested too deeply")
        self.items += 1
        if self.items > _MAX_ITEMS:
            raise _Unreadable("too many objects")
        code = self.u8()
        flag, tag = code & _FLAG_REF, chr(code & ~_FLAG_REF)
        slot = None
        if flag:
            slot = len(self.refs)
            self.refs.append(None)
        value = self._value(tag, depth)
        if slot is not None:
            self.refs[slot] = value
        return value

    def _value(self, tag: str, depth: int):
        if tag in "NFTS.0":
            return None
        if tag == "i":
            return self.i32()
        if tag == "I":
            return struct.unpack("<q", self.take(8))[0]
        if tag == "g":
            return struct.unpack("<d", self.take(8))[0]
        if tag == "y":
            self.take(16)
            return None
        if tag == "f":
            return self.take(self.u8()).decode("ascii", "replace")
        if tag == "x":
            self.take(self.u8())
            self.take(self.u8())
            return None
        if tag == "l":
            n = self.i32()
            if abs(n) > len(self.data):
                raise _Unreadable("bad long")
            self.take(2 * abs(n))
            return None
        if tag == "s":
            return self.take(self.count())
        if tag in "tuaA":
            return self.take(self.count()).decode("utf-8", "surrogatepass" if tag in "tu" else "replace")
        if tag in "zZ":
            return self.take(self.u8()).decode("latin-1")
        if tag == "r":
            index = self.i32()
            if not 0 <= index < len(self.refs):
                raise _Unreadable("bad reference")
            return self.refs[index]
        if tag in "([<>":
            return tuple(self.read(depth + 1) for _ in range(self.count()))
        if tag == ")":
            return tuple(self.read(depth + 1) for _ in range(self.u8()))
        if tag == "{":
            items = []
            while True:
                if self.pos < len(self.data) and self.data[self.pos] == ord("0"):
                    self.pos += 1
                    return tuple(items)
                items.append((self.read(depth + 1), self.read(depth + 1)))
        if tag == "c":
            return self._code(depth)
        raise _Unreadable(f"unknown tag {tag!r}")

    def _code(self, depth: int) -> _Code:
        code = _Code()
        for _ in range(self.ints):
            self.i32()
        if not isinstance(self.read(depth + 1), bytes):
            raise _Unreadable("bytecode is not bytes")
        code.consts = _tuple(self.read(depth + 1))
        code.names = _tuple(self.read(depth + 1))
        if self.ints == 5:        # 3.11+: localsplusnames, localspluskinds
            self.read(depth + 1)
            self.read(depth + 1)
        else:                     # 3.8-3.10: varnames, freevars, cellvars
            for _ in range(3):
                self.read(depth + 1)
        code.filename = _str(self.read(depth + 1))
        code.name = _str(self.read(depth + 1))
        code.qualname = _str(self.read(depth + 1)) if self.ints == 5 else code.name
        self.i32()                # firstlineno
        self.read(depth + 1)      # line table
        if self.ints == 5:
            self.read(depth + 1)  # exception table
        if code.name is None or code.filename is None:
            raise _Unreadable("code object without a name")
        return code


def _tuple(value) -> tuple:
    if not isinstance(value, tuple):
        raise _Unreadable("expected a tuple")
    return value


def _str(value):
    return value if isinstance(value, str) else None


def decode_base64(text) -> bytes | None:
    """The bytes of Keras's base64 text (``\\n`` line breaks allowed), or None."""
    if not isinstance(text, str) or len(text) > MAX_BYTES * 4 // 3 + 4096:
        return None
    try:
        return base64.b64decode(text.encode("ascii"), validate=False)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        return None


def describe(data: bytes) -> dict | None:
    """``{"name", "qualname", "filename", "names", "strings", "functions"}`` of marshalled code, or None.

    ``names`` are the global and attribute names the code (and the functions
    defined in it) uses, ``strings`` its string constants, ``functions`` the
    names of nested functions. Nothing is executed or unmarshalled.
    """
    if not data or len(data) > MAX_BYTES or data[0] & ~_FLAG_REF != ord("c"):
        return None
    for ints in (5, 6):
        try:
            top = _Reader(data, ints).read()
        except (_Unreadable, struct.error, UnicodeDecodeError, RecursionError):
            continue
        if isinstance(top, _Code):
            return _summary(top)
    return None


def _summary(top: _Code) -> dict:
    names, strings, functions = [], [], []
    stack = [top]
    while stack:
        code = stack.pop()
        for n in code.names:
            if isinstance(n, str) and n not in names:
                names.append(n)
        for c in code.consts:
            if isinstance(c, _Code):
                functions.append(c.qualname or c.name)
                stack.append(c)
            elif isinstance(c, str) and c not in strings and len(strings) < 32:
                strings.append(c if len(c) <= 256 else c[:256] + "...")
    return {"name": top.name, "qualname": top.qualname, "filename": top.filename, "names": names[:64],
            "strings": strings, "functions": functions[:32]}
