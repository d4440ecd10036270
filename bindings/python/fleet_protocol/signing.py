"""Signed envelopes (spec/signing.md): sign, and open with every verification step in order.

1. scheme known, sig 64 (Ed25519) / 32 (HMAC) bytes, key_id resolves            601
2. signature / MAC over PAE("fleet.v1.envelope", payload_type, payload) as received  601
3. only now the payload is parsed by payload_type                              710, 7xx
4. security.key_id == signature.key_id; sender bound to that key (TOFU pins)   607
5. skew 605, expiry 602, seen id 604."""
from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass, field
from typing import Callable, Optional

from google.protobuf.timestamp_pb2 import Timestamp

from . import codec, ed25519
from ._proto.fleet.v1 import envelope_pb2, signed_pb2
from .errors import ErrorCode, FleetError, fail
from .identity import Identity, random_bytes
from .keyid import hmac_key_id_for, key_id_for
from .pae import pae
from .replay import ReplayGuard

ENVELOPE_PROTO = "application/vnd.fleet.v1.envelope+proto"
ENVELOPE_JSON = "application/vnd.fleet.v1.envelope+json"
BATCH_PROTO = "application/vnd.fleet.v1.envelope-batch+proto"
DOMAIN = "fleet.v1.envelope"
MAX_PINS = 100_000

ED25519 = signed_pb2.SIGNATURE_SCHEME_ED25519
HMAC_SHA256 = signed_pb2.SIGNATURE_SCHEME_HMAC_SHA256


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def ts_ms(ts: Timestamp) -> int:
    """A Timestamp in Unix ms as spec/signing.md defines it ("Times"): nanos rounded half up."""
    return ts.seconds * 1000 + (ts.nanos + 500_000) // 1_000_000


def timestamp(ms: int) -> Timestamp:
    return Timestamp(seconds=ms // 1000, nanos=(ms % 1000) * 1_000_000)


def serialize_envelope(env: envelope_pb2.Envelope, payload_type: str = ENVELOPE_PROTO) -> bytes:
    if payload_type == ENVELOPE_PROTO:
        return codec.encode(env)
    if payload_type == ENVELOPE_JSON:
        codec.validate(env)
        return codec.to_json_bytes(env)
    raise fail(ErrorCode.ERROR_CODE_WIRE_UNSUPPORTED_PAYLOAD_TYPE, f"unknown payload type {payload_type}")


def parse_envelope(payload_type: str, payload: bytes) -> envelope_pb2.Envelope:
    if payload_type == ENVELOPE_PROTO:
        return codec.decode(envelope_pb2.Envelope, payload)
    if payload_type == ENVELOPE_JSON:
        return codec.from_json_bytes(envelope_pb2.Envelope, payload)
    raise fail(ErrorCode.ERROR_CODE_WIRE_UNSUPPORTED_PAYLOAD_TYPE, f"unknown payload type {payload_type!r}")


def sign_envelope(env: envelope_pb2.Envelope, identity: Identity, payload_type: str = ENVELOPE_PROTO) -> signed_pb2.SignedEnvelope:
    """Sets security.key_id (and a fresh 16-byte nonce when absent), serializes, signs."""
    env.security.key_id = identity.key_id
    if not env.security.nonce:
        env.security.nonce = random_bytes(16)
    payload = serialize_envelope(env, payload_type)
    sig = identity.sign(pae(DOMAIN, payload_type, payload))
    return signed_pb2.SignedEnvelope(payload_type=payload_type, payload=payload, signature=signed_pb2.Signature(scheme=ED25519, key_id=identity.key_id, sig=sig))


def sign_envelope_hmac(env: envelope_pb2.Envelope, secret: bytes, payload_type: str = ENVELOPE_PROTO) -> signed_pb2.SignedEnvelope:
    """The weaker shared-secret mode (SIGNATURE_SCHEME_HMAC_SHA256)."""
    if len(secret) < 32:
        raise fail(ErrorCode.ERROR_CODE_SECURITY_MALFORMED_KEY, "an HMAC shared secret is at least 32 bytes")
    kid = hmac_key_id_for(secret)
    env.security.key_id = kid
    if not env.security.nonce:
        env.security.nonce = random_bytes(16)
    payload = serialize_envelope(env, payload_type)
    mac = hmac.new(secret, pae(DOMAIN, payload_type, payload), hashlib.sha256).digest()
    return signed_pb2.SignedEnvelope(payload_type=payload_type, payload=payload, signature=signed_pb2.Signature(scheme=HMAC_SHA256, key_id=kid, sig=mac))


class PinnedKeys:
    """Known public keys (key id -> key) and name-to-key pins (TOFU), bounded to MAX_PINS names."""

    def __init__(self, trust_on_first_use: bool = True) -> None:
        self.tofu = trust_on_first_use
        self.keys: dict[str, bytes] = {}
        self.pins: dict[str, str] = {}

    def add_key(self, public_key: bytes) -> str:
        ed25519.check_public_key(public_key)
        kid = key_id_for(public_key)
        self.keys[kid] = bytes(public_key)
        return kid

    def pin(self, agent: str, public_key: bytes) -> str:
        """Binds agent to key (607 if it is bound to another)."""
        kid = key_id_for(public_key)
        have = self.pins.get(agent)
        if have is not None and have != kid:
            raise fail(ErrorCode.ERROR_CODE_SECURITY_KEY_MISMATCH, f"{agent} is bound to another key")
        if have is None and len(self.pins) >= MAX_PINS:
            raise fail(ErrorCode.ERROR_CODE_DELIVERY_BUSY, f"pin table full ({MAX_PINS} names)")
        self.add_key(public_key)
        self.pins[agent] = kid
        return kid

    def check_binding(self, agent: str, key_id: str, *, commit: bool = True) -> None:
        """607 when agent is bound to another key; under TOFU an unbound name is pinned (when commit)."""
        have = self.pins.get(agent)
        if have is None:
            if not self.tofu:
                raise fail(ErrorCode.ERROR_CODE_SECURITY_KEY_MISMATCH, f"{agent} is not pinned to any key")
            if len(self.pins) >= MAX_PINS:
                raise fail(ErrorCode.ERROR_CODE_DELIVERY_BUSY, f"pin table full ({MAX_PINS} names)")
            if commit:
                self.pins[agent] = key_id
        elif have != key_id:
            raise fail(ErrorCode.ERROR_CODE_SECURITY_KEY_MISMATCH, f"{agent} is bound to another key")


@dataclass
class VerifyContext:
    keys: PinnedKeys = field(default_factory=PinnedKeys)
    secrets: dict[str, bytes] = field(default_factory=dict)
    replay: Optional[ReplayGuard] = field(default_factory=ReplayGuard)
    clock: Callable[[], int] = now_ms
    allow_introduction: bool = False

    def add_secret(self, secret: bytes) -> str:
        if len(secret) < 32:
            raise fail(ErrorCode.ERROR_CODE_SECURITY_MALFORMED_KEY, "an HMAC shared secret is at least 32 bytes")
        kid = hmac_key_id_for(secret)
        self.secrets[kid] = bytes(secret)
        return kid


_INTRODUCTIONS = ("hello", "welcome", "hello_reject")


def _introduced_key(se: signed_pb2.SignedEnvelope) -> Optional[bytes]:
    """For a Hello/Welcome/HelloReject only: the identity key the payload carries, if it hashes to the key id."""
    try:
        env = parse_envelope(se.payload_type, se.payload)
    except FleetError:
        return None
    kind = env.body.WhichOneof("kind") if env.HasField("body") else None
    if kind not in _INTRODUCTIONS:
        return None
    pub = getattr(env.body, kind).identity_public_key
    return bytes(pub) if key_id_for(pub) == se.signature.key_id else None


def open_signed(se: signed_pb2.SignedEnvelope, ctx: VerifyContext) -> envelope_pb2.Envelope:
    """Verifies and returns the envelope (spec/signing.md, steps 1-5 in order)."""
    sig = se.signature
    # 1. scheme, length, key
    if sig.scheme == ED25519:
        if len(sig.sig) != 64:
            raise fail(ErrorCode.ERROR_CODE_SECURITY_SIGNATURE_INVALID, "an Ed25519 signature is 64 bytes")
        pub = ctx.keys.keys.get(sig.key_id)
        introduced = False
        if pub is None and ctx.allow_introduction:
            pub = _introduced_key(se)
            introduced = pub is not None
        if pub is None:
            raise fail(ErrorCode.ERROR_CODE_SECURITY_SIGNATURE_INVALID, f"unknown signer {sig.key_id}")
        # 2. signature over the bytes as received
        if not ed25519.verify(pub, pae(DOMAIN, se.payload_type, se.payload), sig.sig):
            raise fail(ErrorCode.ERROR_CODE_SECURITY_SIGNATURE_INVALID, "signature does not verify")
    elif sig.scheme == HMAC_SHA256:
        introduced = False
        if len(sig.sig) != 32:
            raise fail(ErrorCode.ERROR_CODE_SECURITY_SIGNATURE_INVALID, "an HMAC-SHA256 signature is 32 bytes")
        secret = ctx.secrets.get(sig.key_id)
        if secret is None:
            raise fail(ErrorCode.ERROR_CODE_SECURITY_SIGNATURE_INVALID, f"no shared secret {sig.key_id} was given")
        want = hmac.new(secret, pae(DOMAIN, se.payload_type, se.payload), hashlib.sha256).digest()
        if not hmac.compare_digest(want, sig.sig):
            raise fail(ErrorCode.ERROR_CODE_SECURITY_SIGNATURE_INVALID, "MAC does not verify")
    else:
        raise fail(ErrorCode.ERROR_CODE_SECURITY_SIGNATURE_INVALID, f"unknown signature scheme {sig.scheme}")
    # 3. parse
    env = parse_envelope(se.payload_type, se.payload)
    # 4. binding
    if env.security.key_id != sig.key_id:
        raise fail(ErrorCode.ERROR_CODE_SECURITY_KEY_MISMATCH, "security.key_id differs from signature.key_id")
    if sig.scheme == ED25519:
        if introduced:
            have = ctx.keys.pins.get(env.sender)
            if have is not None and have != sig.key_id:
                raise fail(ErrorCode.ERROR_CODE_SECURITY_KEY_MISMATCH, f"{env.sender} is bound to another key")
        else:
            ctx.keys.check_binding(env.sender, sig.key_id, commit=False)
    # 5. replay
    if ctx.replay is not None:
        ctx.replay.check(env.sender, env.id, ts_ms(env.created_at), env.ttl_seconds, ctx.clock())
    if sig.scheme == ED25519 and not introduced:
        ctx.keys.check_binding(env.sender, sig.key_id)  # pinned only once everything passed
    return env


def open_signed_bytes(data: bytes, ctx: VerifyContext) -> envelope_pb2.Envelope:
    return open_signed(codec.decode(signed_pb2.SignedEnvelope, data), ctx)
