"""Strict Ed25519 (spec/signing.md): RFC 8032 pure Ed25519 through `cryptography`, plus the rules every
Fleet implementation applies identically: S < L, canonical public key (y < p) that is not of small
order, canonical R. Malformed keys are 606 when loaded; at verification they simply do not verify."""
from __future__ import annotations

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives import serialization

from .errors import ErrorCode, fail

P = 2**255 - 19
L = 2**252 + 27742317777372353535851937790883648493

_RAW = dict(encoding=serialization.Encoding.Raw, format=serialization.PublicFormat.Raw)


_Y8 = int.from_bytes(bytes.fromhex("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a"), "little")
# y (mod p) of every point of small order: 0 (order 4), 1 (identity), p - 1 (order 2), ±y8 (order 8).
_SMALL_ORDER_Y = {0, 1, P - 1, _Y8, P - _Y8}


def _r_small_order(r: bytes) -> bool:
    """spec/signing.md step 4: R encodes (canonically or not) a point of small order."""
    return (int.from_bytes(r, "little") & ((1 << 255) - 1)) % P in _SMALL_ORDER_Y


def _y_canonical(enc: bytes) -> bool:
    return int.from_bytes(enc, "little") & ((1 << 255) - 1) < P


# Checked, loaded keys by their bytes; bounded (cleared when it reaches _CACHE_MAX).
_CACHE: dict[bytes, Ed25519PublicKey] = {}
_CACHE_MAX = 4096


def _loaded(pub: bytes) -> Ed25519PublicKey | None:
    """The key as an object when it is well-formed (cached), else None."""
    key = _CACHE.get(pub)
    if key is None:
        if public_key_problem(pub):
            return None
        if len(_CACHE) >= _CACHE_MAX:
            _CACHE.clear()
        key = _CACHE[bytes(pub)] = Ed25519PublicKey.from_public_bytes(bytes(pub))
    return key


def public_key_problem(pub: bytes) -> str | None:
    """Why a public key is malformed, or None."""
    if len(pub) != 32:
        return f"an Ed25519 public key is 32 bytes, not {len(pub)}"
    if not _y_canonical(pub):
        return "non-canonical public key (y >= p)"
    if (int.from_bytes(pub, "little") & ((1 << 255) - 1)) in _SMALL_ORDER_Y:
        return "small-order public key (or x = 0 with the sign bit set)"
    try:
        Ed25519PublicKey.from_public_bytes(pub)
    except ValueError:
        return "not a point on the curve"
    return None


def check_public_key(pub: bytes) -> bytes:
    """Returns the key, or raises 606 SECURITY_MALFORMED_KEY."""
    problem = public_key_problem(pub)
    if problem:
        raise fail(ErrorCode.ERROR_CODE_SECURITY_MALFORMED_KEY, problem)
    return bytes(pub)


def verify(pub: bytes, message: bytes, sig: bytes) -> bool:
    """Strict verification; never raises."""
    if len(sig) != 64:
        return False
    key = _loaded(bytes(pub))
    if key is None:
        return False
    r, s = sig[:32], sig[32:]
    # spec/signing.md "Ed25519 verification": 2. S < L; 3. A canonical, not of small order (loading it);
    # 4. R not of small order; 5. OpenSSL's cofactorless equation, which compares encodings (so a
    # non-canonical R never verifies; refusing y >= p here is the same verdict, earlier).
    if int.from_bytes(s, "little") >= L or not _y_canonical(r) or _r_small_order(r):
        return False
    try:
        key.verify(bytes(sig), message)
        return True
    except (InvalidSignature, ValueError):
        return False


def private_from_seed(seed: bytes) -> Ed25519PrivateKey:
    if len(seed) != 32:
        raise fail(ErrorCode.ERROR_CODE_SECURITY_MALFORMED_KEY, "an Ed25519 seed is 32 bytes")
    return Ed25519PrivateKey.from_private_bytes(bytes(seed))


def public_bytes(sk: Ed25519PrivateKey) -> bytes:
    return sk.public_key().public_bytes(**_RAW)
