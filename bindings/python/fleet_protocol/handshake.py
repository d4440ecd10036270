"""The handshake as initiator (spec/handshake.md, spec/sessions.md): Hello -> Welcome | HelloReject -> Confirm.

Pure state: ``hello()`` returns the SignedEnvelope to send, ``receive()`` takes the answer and
returns the Confirm and the established session (or raises a HandshakeError / FleetError)."""
from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from typing import Optional

from ._proto.fleet.v1 import capabilities_pb2, envelope_pb2, handshake_pb2, signed_pb2
from .envelope import build_envelope
from .errors import ErrorCode, FleetError, fail
from .identity import Identity, random_bytes
from .keyid import key_id_for
from .session import Session, create_ephemeral, transcript_hash
from .signing import PinnedKeys, VerifyContext, open_signed, sign_envelope
from .replay import ReplayGuard

NONCE_BYTES = 32
HANDSHAKE_TTL_SECONDS = 60
VERSIONS = ["3.0"]
DEFAULT_HEARTBEAT = handshake_pb2.HeartbeatParams(interval_ms=5000, degraded_after_ms=10000, suspect_after_ms=15000, dead_after_ms=30000)
MAX_FRAME = 2 * 1024 * 1024


def _version_key(v: str) -> Optional[tuple[int, int]]:
    parts = v.split(".")
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        return None
    return int(parts[0]), int(parts[1])


@dataclass
class Established:
    session_id: str
    peer: str
    peer_key_id: str
    peer_public_key: bytes
    version: str
    heartbeat: handshake_pb2.HeartbeatParams
    max_frame_bytes: int
    session: Session
    shared_capabilities: list = field(default_factory=list)


class HandshakeInitiator:
    def __init__(self, identity: Identity, keys: PinnedKeys, *, responder: Optional[str] = None, offered: list[capabilities_pb2.Capability] = (),
                 required: list[capabilities_pb2.Capability] = (), admission_token: str = "", max_frame_bytes: int = 0,
                 heartbeat: handshake_pb2.HeartbeatParams = DEFAULT_HEARTBEAT) -> None:
        self.identity, self.keys, self.responder = identity, keys, responder
        self.capabilities = capabilities_pb2.CapabilitySet(offered=list(offered), required=list(required))
        self.admission_token, self.max_frame_bytes, self.heartbeat = admission_token, max_frame_bytes, heartbeat
        self.state = "idle"
        self._attempts: list[tuple[bytes, object, signed_pb2.SignedEnvelope]] = []

    def resume(self, hello: signed_pb2.SignedEnvelope, nonce: bytes, ephemeral_private) -> None:
        """Takes a Hello already sent (with its nonce and ephemeral private key) as the current attempt:
        for replaying a recorded handshake such as the fixture's."""
        self._attempts.append((bytes(nonce), ephemeral_private, hello))
        self.state = "awaiting-welcome"

    def hello(self) -> signed_pb2.SignedEnvelope:
        """A Hello (a fresh nonce and ephemeral key each call: the first attempt or a retry)."""
        if self.state not in ("idle", "awaiting-welcome"):
            raise fail(ErrorCode.ERROR_CODE_HANDSHAKE_REQUIRED, f"hello() in state {self.state}")
        eph_sk, eph_pub = create_ephemeral()
        nonce = random_bytes(NONCE_BYTES)
        body = envelope_pb2.Body(hello=handshake_pb2.Hello(
            versions=VERSIONS, capabilities=self.capabilities, nonce=nonce, ephemeral_public_key=eph_pub,
            identity_public_key=self.identity.public_key, heartbeat=self.heartbeat, max_frame_bytes=self.max_frame_bytes,
            admission_token=self.admission_token))
        env = build_envelope(self.identity.agent, self.responder or "fleet:hub", type=envelope_pb2.MESSAGE_TYPE_COMMAND, body=body, ttl_seconds=HANDSHAKE_TTL_SECONDS)
        se = sign_envelope(env, self.identity)
        self._attempts.append((nonce, eph_sk, se))
        self.state = "awaiting-welcome"
        return se

    def receive(self, se: signed_pb2.SignedEnvelope, clock=None) -> tuple[signed_pb2.SignedEnvelope, Established]:
        if self.state != "awaiting-welcome":
            raise fail(ErrorCode.ERROR_CODE_HANDSHAKE_REQUIRED, f"a handshake message in state {self.state}")
        # Verified first: an unknown responder introduces itself (its identity key hashes to the key id).
        ctx = VerifyContext(keys=self.keys, replay=ReplayGuard(), allow_introduction=True, **({"clock": clock} if clock else {}))
        try:
            env = open_signed(se, ctx)
        except FleetError as e:
            # Inside a handshake every 6xx verification failure is 104 (spec/errors.md, step 5).
            if 600 <= e.code < 700:
                raise fail(ErrorCode.ERROR_CODE_HANDSHAKE_AUTH_FAILED, f"{e.code} {e.detail}", e.pointer) from None
            raise
        kind = env.body.WhichOneof("kind")
        if kind not in ("welcome", "hello_reject"):
            raise fail(ErrorCode.ERROR_CODE_HANDSHAKE_REQUIRED, f"expected a Welcome, got {kind}")
        if self.responder is not None and env.sender != self.responder:
            raise fail(ErrorCode.ERROR_CODE_HANDSHAKE_AUTH_FAILED, f"expected {self.responder}, got {env.sender}", "/sender")
        if kind == "hello_reject" and (env.recipient.WhichOneof("target") != "agent" or env.recipient.agent != self.identity.agent):
            raise fail(ErrorCode.ERROR_CODE_HANDSHAKE_AUTH_FAILED, "the HelloReject is not addressed to us", "/recipient")
        step = getattr(env.body, kind)
        attempt = next((a for a in self._attempts if hmac.compare_digest(a[0], step.initiator_nonce)), None)
        if attempt is None:
            raise fail(ErrorCode.ERROR_CODE_HANDSHAKE_AUTH_FAILED, "the answer echoes none of our nonces", f"/body/{kind}/initiatorNonce")
        if kind == "hello_reject":
            self.state = "failed"
            code = step.error.code or ErrorCode.ERROR_CODE_HANDSHAKE_REJECTED
            raise fail(code, f"handshake rejected: {step.error.message} (peer speaks {', '.join(step.supported_versions)})")
        w: handshake_pb2.Welcome = step
        for name, n in (("nonce", NONCE_BYTES), ("ephemeral_public_key", 32), ("identity_public_key", 32)):
            if len(getattr(w, name)) != n:
                raise fail(ErrorCode.ERROR_CODE_VALIDATION_OUT_OF_RANGE, f"welcome {name} must be {n} bytes", f"/body/welcome/{name}")
        if key_id_for(w.identity_public_key) != se.signature.key_id:
            raise fail(ErrorCode.ERROR_CODE_HANDSHAKE_AUTH_FAILED, "welcome identity key is not the signer's")
        if not w.session_id:
            raise fail(ErrorCode.ERROR_CODE_VALIDATION_MISSING_FIELD, "welcome without session id", "/body/welcome/sessionId")
        if w.version not in VERSIONS:
            self.state = "failed"
            raise fail(ErrorCode.ERROR_CODE_HANDSHAKE_VERSION_MISMATCH, f"peer chose {w.version}, we speak {VERSIONS}")
        offered = {(c.name, c.version) for c in w.capabilities.offered}
        for c in self.capabilities.required:
            if not any(n == c.name and (not c.version or v == c.version) for n, v in offered):
                self.state = "failed"
                raise fail(ErrorCode.ERROR_CODE_CAPABILITY_REQUIRED, f"responder lacks required capability {c.name}")
        nonce, eph_sk, hello = attempt
        # The recipient is me (spec/handshake.md, step 3).
        if env.recipient.WhichOneof("target") != "agent" or env.recipient.agent != self.identity.agent:
            raise fail(ErrorCode.ERROR_CODE_HANDSHAKE_AUTH_FAILED, "the Welcome is not addressed to us", "/recipient")
        transcript = transcript_hash(self.identity.agent, self.identity.public_key, env.sender, bytes(w.identity_public_key), hello.payload, se.payload)
        session = Session.derive("initiator", w.session_id, eph_sk, w.ephemeral_public_key, transcript)
        try:
            self.keys.pin(env.sender, w.identity_public_key)
        except FleetError as e:
            raise fail(ErrorCode.ERROR_CODE_HANDSHAKE_AUTH_FAILED, e.detail) from None
        confirm_env = build_envelope(self.identity.agent, env.sender, type=envelope_pb2.MESSAGE_TYPE_COMMAND, in_reply_to=env.id,
                                     ttl_seconds=HANDSHAKE_TTL_SECONDS,
                                     body=envelope_pb2.Body(handshake_confirm=handshake_pb2.HandshakeConfirm(session_id=w.session_id, responder_nonce=w.nonce,
                                                                                                         finished=session.finished_i)))
        confirm = sign_envelope(confirm_env, self.identity)
        self.state = "established"
        hb = handshake_pb2.HeartbeatParams(**{f: max(getattr(self.heartbeat, f), getattr(w.heartbeat, f)) for f in ("interval_ms", "degraded_after_ms", "suspect_after_ms", "dead_after_ms")})
        limits = [x for x in (self.max_frame_bytes, w.max_frame_bytes) if x]
        return confirm, Established(session_id=w.session_id, peer=env.sender, peer_key_id=se.signature.key_id, peer_public_key=bytes(w.identity_public_key),
                                    version=w.version, heartbeat=hb, max_frame_bytes=min(limits + [MAX_FRAME]), session=session,
                                    shared_capabilities=list(w.shared_capabilities))
