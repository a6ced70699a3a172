"""Read an RDB file's header without loading the data: version, aux fields, key counts.

Opcodes: FA aux, FB resizedb (keys, expires per database), FE selectdb, FF EOF (+ CRC64);
the first opcode that is not one of these is the first key: the header ends there.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass, field
from typing import Any, BinaryIO

HEADER_LIMIT = 1 << 20  # aux fields are small; never read more than 1 MiB for the header


class RdbError(Exception):
    pass


@dataclass
class RdbHeader:
    version: int
    aux: dict[str, str] = field(default_factory=dict)
    keys: int = 0  # sum of RESIZEDB key counts over databases
    expires: int = 0
    dbs: dict[int, int] = field(default_factory=dict)
    has_resizedb: bool = False
    empty: bool = False  # goes straight from the aux fields to EOF
    size: int = 0
    ends_with_eof: bool = False  # the 9 last bytes are FF + checksum

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "aux": self.aux,
            "keys": self.keys,
            "expires": self.expires,
            "dbs": {str(k): v for k, v in self.dbs.items()},
            "has_resizedb": self.has_resizedb,
            "empty": self.empty,
            "size_bytes": self.size,
            "ends_with_eof": self.ends_with_eof,
        }


def _length(f: BinaryIO) -> tuple[int, bool]:
    """RDB length encoding. Returns (value, is_special_encoding)."""
    b = f.read(1)
    if not b:
        raise RdbError("file ends inside the header")
    first = b[0]
    kind = first >> 6
    if kind == 0:
        return first & 0x3F, False
    if kind == 1:
        nb = f.read(1)
        if not nb:
            raise RdbError("file ends inside the header")
        return ((first & 0x3F) << 8) | nb[0], False
    if kind == 2:
        if first == 0x80:
            d = f.read(4)
            if len(d) < 4:
                raise RdbError("file ends inside the header")
            return struct.unpack(">I", d)[0], False
        if first == 0x81:
            d = f.read(8)
            if len(d) < 8:
                raise RdbError("file ends inside the header")
            return struct.unpack(">Q", d)[0], False
        raise RdbError(f"bad length byte 0x{first:02x}")
    return first & 0x3F, True


def _string(f: BinaryIO) -> str:
    n, special = _length(f)
    if special:
        if n == 0:
            d = f.read(1)
            return str(struct.unpack("b", d)[0]) if len(d) == 1 else _eof()
        if n == 1:
            d = f.read(2)
            return str(struct.unpack("<h", d)[0]) if len(d) == 2 else _eof()
        if n == 2:
            d = f.read(4)
            return str(struct.unpack("<i", d)[0]) if len(d) == 4 else _eof()
        if n == 3:  # LZF: skip it, aux values are never compressed in practice
            clen, _ = _length(f)
            _ulen, _ = _length(f)
            f.read(clen)
            return "<lzf>"
        raise RdbError(f"unknown string encoding {n}")
    if n > HEADER_LIMIT:
        raise RdbError("string in the header is too long")
    d = f.read(n)
    if len(d) < n:
        raise RdbError("file ends inside the header")
    return d.decode("utf-8", "replace")


def _eof() -> str:
    raise RdbError("file ends inside the header")


def read_header(path: str, acc: Any = None) -> RdbHeader:
    """The header of the RDB file at path, on the host of acc (this machine by default); RdbError
    when it is not one, AccessError when it cannot be read."""
    from runbook.access import LOCAL

    acc = acc or LOCAL
    st = acc.stat(path)
    if st is None:
        raise RdbError(f"{path}: no such file")
    size = st["size"]
    f = io.BytesIO(acc.read(path, HEADER_LIMIT + 64 * 1024))
    magic = f.read(9)
    if len(magic) < 9 or not magic.startswith(b"REDIS") or not magic[5:].isdigit():
        raise RdbError("not an RDB file (no REDIS magic)")
    h = RdbHeader(version=int(magic[5:]), size=size)
    db = 0
    while f.tell() < HEADER_LIMIT:
        op = f.read(1)
        if not op:
            raise RdbError("file ends inside the header")
        o = op[0]
        if o == 0xFA:
            k = _string(f)
            h.aux[k] = _string(f)
        elif o == 0xFE:
            db, _ = _length(f)
        elif o == 0xFB:
            keys, _ = _length(f)
            exp, _ = _length(f)
            h.has_resizedb = True
            h.dbs[db] = h.dbs.get(db, 0) + keys
            h.keys += keys
            h.expires += exp
        elif o == 0xF5:  # function (7.0): header part; skip name-less payload is not possible cheaply
            break
        elif o == 0xFF:
            h.empty = not h.dbs
            break
        else:
            break  # the first key (or a module/function opcode): header done
    if size >= 9:
        h.ends_with_eof = acc.tail(path, 9)[:1] == b"\xff"
    if h.version < 7:
        h.ends_with_eof = True  # no checksum before RDB 5; be lenient on old files
    return h
