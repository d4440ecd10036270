"""Pre-authentication encoding (spec/signing.md, "PAE")."""
from __future__ import annotations

import struct
from typing import Union

Part = Union[bytes, bytearray, memoryview, str]


def u64be(n: int) -> bytes:
    """An integer part: 8 bytes big-endian."""
    return struct.pack(">Q", n)


def pae(domain: str, *parts: Part) -> bytes:
    """PAE(domain, part_1..part_n) = "FLEET-PAE/1" u32be(n+1) then each field as u32be(len) || bytes; text is UTF-8."""
    fields = [domain.encode("utf-8")] + [p.encode("utf-8") if isinstance(p, str) else bytes(p) for p in parts]
    out = [b"FLEET-PAE/1", struct.pack(">I", len(fields))]
    for f in fields:
        out.append(struct.pack(">I", len(f)))
        out.append(f)
    return b"".join(out)
