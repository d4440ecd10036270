"""Key ids (spec/signing.md, "Key ids")."""
from __future__ import annotations

import base64
import hashlib


def _b32(data: bytes) -> str:
    return base64.b32encode(data).decode("ascii").lower().rstrip("=")


def key_id_for(public_key: bytes) -> str:
    """"ed25519:" + base32(SHA-256(public_key)[0..20]), lower case, no padding."""
    return "ed25519:" + _b32(hashlib.sha256(public_key).digest()[:20])


def hmac_key_id_for(secret: bytes) -> str:
    """"hmac:" + base32(SHA-256(secret)[0..20])."""
    return "hmac:" + _b32(hashlib.sha256(secret).digest()[:20])
