"""Frames on stream transports (spec/frame.md): "FP" 0x01 0x00, u32be length, one Packet."""
from __future__ import annotations

import struct

from .errors import ErrorCode, fail

MAGIC = b"FP"
VERSION = 1
HEADER_BYTES = 8
MAX_FRAME_BYTES = 2 * 1024 * 1024


def encode_frame(body: bytes, max_frame_bytes: int = MAX_FRAME_BYTES) -> bytes:
    if not 1 <= len(body) <= max_frame_bytes:
        raise fail(ErrorCode.ERROR_CODE_WIRE_FRAME_TOO_LARGE, f"frame body of {len(body)} bytes (1..{max_frame_bytes})")
    return MAGIC + bytes([VERSION, 0]) + struct.pack(">I", len(body)) + body


class FrameDecoder:
    """Push bytes, take whole bodies. Holds at most one header plus one body (<= max_frame_bytes):
    a larger length is refused (703) before any of its body is buffered."""

    def __init__(self, max_frame_bytes: int = MAX_FRAME_BYTES) -> None:
        self.max = min(max_frame_bytes, MAX_FRAME_BYTES)
        self._buf = bytearray()
        self._need: int | None = None

    def push(self, data: bytes) -> list[bytes]:
        self._buf += data
        out: list[bytes] = []
        while True:
            if self._need is None:
                if len(self._buf) < HEADER_BYTES:
                    return out
                h = bytes(self._buf[:HEADER_BYTES])
                if h[:2] != MAGIC or h[2] != VERSION or h[3] != 0:
                    raise fail(ErrorCode.ERROR_CODE_WIRE_BAD_MAGIC, f"bad frame header {h[:4].hex()}")
                (n,) = struct.unpack(">I", h[4:])
                if n < 1 or n > self.max:
                    raise fail(ErrorCode.ERROR_CODE_WIRE_FRAME_TOO_LARGE, f"frame length {n} (1..{self.max})")
                del self._buf[:HEADER_BYTES]
                self._need = n
            if len(self._buf) < self._need:
                return out
            out.append(bytes(self._buf[: self._need]))
            del self._buf[: self._need]
            self._need = None

    def end(self) -> None:
        """The stream ended: 702 if it ended inside a frame."""
        if self._buf or self._need is not None:
            raise fail(ErrorCode.ERROR_CODE_WIRE_TRUNCATED, "stream ended inside a frame")
