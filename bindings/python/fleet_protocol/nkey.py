"""An Ed25519 key in the nkeys text forms NATS uses for users (spec/nats-auth.md, "Identity").

base32 (RFC 4648, upper case, no padding) of a prefix, the 32 key bytes and a CRC-16/XMODEM of
both, little-endian: a user public key starts with "U", a user seed with "SU". Anything else
given as a user public key (bad checksum, another prefix, not base32) is refused with 606."""
from __future__ import annotations

import base64
import binascii

from .errors import ErrorCode, SecurityError

_PREFIX_USER = 20 << 3  # "U"
_PREFIX_SEED = 18 << 3  # "S"


def crc16(data: bytes) -> int:
    """CRC-16/XMODEM: polynomial 0x1021, initial value 0."""
    crc = 0
    for b in data:
        crc ^= b << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
    return crc


def _encode(raw: bytes) -> str:
    return base64.b32encode(raw + crc16(raw).to_bytes(2, "little")).decode("ascii").rstrip("=")


def _malformed(why: str) -> SecurityError:
    return SecurityError(ErrorCode.ERROR_CODE_SECURITY_MALFORMED_KEY, why)


def _decode(text: str) -> bytes:
    if not text or any(c not in "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567" for c in text):
        raise _malformed("nkey: not base32")
    try:
        raw = base64.b32decode(text + "=" * (-len(text) % 8))
    except (binascii.Error, ValueError) as e:
        raise _malformed(f"nkey: not base32 ({e})") from e
    if len(raw) < 3 or crc16(raw[:-2]) != int.from_bytes(raw[-2:], "little"):
        raise _malformed("nkey: checksum mismatch")
    return raw[:-2]


def user_nkey(public_key: bytes) -> str:
    """The NATS user public key ("U" + 55 characters) of a 32-byte Ed25519 public key."""
    if len(public_key) != 32:
        raise _malformed("an Ed25519 public key is 32 bytes")
    return _encode(bytes([_PREFIX_USER]) + public_key)


def user_seed(seed: bytes) -> str:
    """The NATS user seed ("SU" + 56 characters) of a 32-byte Ed25519 seed: a secret."""
    if len(seed) != 32:
        raise _malformed("an Ed25519 seed is 32 bytes")
    return _encode(bytes([_PREFIX_SEED | (_PREFIX_USER >> 5), (_PREFIX_USER & 31) << 3]) + seed)


def public_key_of_user_nkey(text: str) -> bytes:
    """The Ed25519 public key inside a user nkey; 606 for anything else."""
    raw = _decode(text)
    if len(raw) != 33 or raw[0] != _PREFIX_USER:
        raise _malformed("not a NATS user public key (U...)")
    return raw[1:]
