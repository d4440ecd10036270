"""Session resumption (spec/handshake.md, "Resumption"): the PSK, the binder keys, the resumed
step's MAC, and the reference hub's ticket format (seal/open).

Every refusal is 104 HANDSHAKE_AUTH_FAILED with the pointer the spec names; the MAC of a resumed
step is checked before its payload is parsed."""
from __future__ import annotations

import base64
import hashlib
import hmac
import re
import struct
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from . import codec
from ._proto.fleet.v1 import envelope_pb2, signed_pb2
from .errors import ErrorCode, FleetError, fail
from .keyid import key_id_for
from .pae import pae, u64be
from .replay import ReplayGuard
from .signing import DOMAIN, HMAC_SHA256, parse_envelope, serialize_envelope, ts_ms

AUTH = ErrorCode.ERROR_CODE_HANDSHAKE_AUTH_FAILED
ROLES = ("initiator", "responder")
MAX_TICKET_BYTES = 512  # Welcome.resumption_ticket is at most 512 bytes (spec/handshake.md)
TICKET_VERSION = 1
KEY_ID_PREFIX = "ticket:"
_HEADER = 1 + 4 + 12  # version, key tag, nonce
_FIXED = 32 + 32 + 8  # psk, identity public key, u64be(expires_at_ms)
_TAG = 16
_B64URL = re.compile(r"^[A-Za-z0-9_-]*$")


@dataclass(frozen=True)
class TicketState:
    """What the reference hub seals in a ticket."""
    agent: str
    identity_public_key: bytes
    psk: bytes
    expires_at_ms: int

    def __iter__(self):
        """Unpacks as (agent, identity_public_key, psk, expires_at_ms)."""
        return iter((self.agent, self.identity_public_key, self.psk, self.expires_at_ms))


def resumption_psk(shared: bytes, nonce_i: bytes, nonce_r: bytes, session_id: str) -> bytes:
    """HKDF-SHA256(ikm = X25519 shared secret, salt = Hello.nonce || Welcome.nonce,
    info = PAE("fleet.v1.resumption-psk", session_id), L = 32)."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=bytes(nonce_i) + bytes(nonce_r),
                info=pae("fleet.v1.resumption-psk", session_id)).derive(bytes(shared))


def binder_key(psk: bytes, role: str) -> bytes:
    """HMAC-SHA256(psk, PAE("fleet.v1.resumption-binder", role)); role "initiator" (Hello, Confirm) or "responder" (Welcome)."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}, not {role!r}")
    return hmac.new(bytes(psk), pae("fleet.v1.resumption-binder", role), hashlib.sha256).digest()


def ticket_key_tag(key: bytes) -> bytes:
    """SHA-256(PAE("fleet.v1.resumption-ticket-key", ticket_key))[0..4]."""
    return hashlib.sha256(pae("fleet.v1.resumption-ticket-key", bytes(key))).digest()[:4]


def ticket_key_id(ticket: bytes) -> str:
    """"ticket:" + base64url(ticket), RFC 4648 section 5, no padding."""
    return KEY_ID_PREFIX + base64.urlsafe_b64encode(bytes(ticket)).decode("ascii").rstrip("=")


def ticket_from_key_id(key_id: str) -> bytes:
    """The ticket a "ticket:" key id names (104 at /signature/keyId when it is not one, or not canonical base64url)."""
    if not key_id.startswith(KEY_ID_PREFIX):
        raise fail(AUTH, "a resumed step's key id starts with ticket:", "/signature/keyId")
    text = key_id[len(KEY_ID_PREFIX):]
    if not text or len(text) % 4 == 1 or len(text) > (MAX_TICKET_BYTES * 4 + 2) // 3 or not _B64URL.match(text):
        raise fail(AUTH, "the ticket key id is not base64url (no padding) of at most 512 bytes", "/signature/keyId")
    ticket = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if ticket_key_id(ticket) != key_id:  # unused trailing bits set: not the canonical form
        raise fail(AUTH, "the ticket key id is not canonical base64url", "/signature/keyId")
    return ticket


def ticket_plaintext(state: TicketState) -> bytes:
    """psk (32) || identity_public_key (32) || u64be(expires_at_ms) || UTF-8 agent name."""
    if len(state.psk) != 32 or len(state.identity_public_key) != 32:
        raise fail(ErrorCode.ERROR_CODE_SECURITY_MALFORMED_KEY, "a ticket seals a 32-byte PSK and a 32-byte identity key")
    return bytes(state.psk) + bytes(state.identity_public_key) + u64be(state.expires_at_ms) + state.agent.encode("utf-8")


def seal_ticket(key: bytes, state: TicketState, nonce: bytes) -> bytes:
    """0x01 || key_tag || nonce || AES-256-GCM(key, nonce, aad = 0x01 || key_tag, plaintext)."""
    if len(key) != 32 or len(nonce) != 12:
        raise fail(ErrorCode.ERROR_CODE_SECURITY_MALFORMED_KEY, "a ticket key is 32 bytes and its nonce 12")
    aad = bytes([TICKET_VERSION]) + ticket_key_tag(key)
    ticket = aad + bytes(nonce) + AESGCM(bytes(key)).encrypt(bytes(nonce), ticket_plaintext(state), aad)
    if len(ticket) > MAX_TICKET_BYTES:
        raise fail(ErrorCode.ERROR_CODE_VALIDATION_OUT_OF_RANGE, f"the ticket would pass {MAX_TICKET_BYTES} bytes (agent name too long)")
    return ticket


def open_ticket(key: bytes, ticket: bytes, now_ms: int) -> TicketState:
    """The sealed state of a ticket of ours: 104 at /signature/keyId when it is not ours (version,
    key tag), altered (GCM tag), malformed, or expired (now_ms >= expires_at_ms).
    The result unpacks as (agent, identity_public_key, psk, expires_at_ms)."""
    def refuse(why: str) -> FleetError:
        return fail(AUTH, f"resumption ticket refused: {why}", "/signature/keyId")
    ticket = bytes(ticket)
    if len(ticket) > MAX_TICKET_BYTES or len(ticket) < _HEADER + _FIXED + _TAG:
        raise refuse("wrong length")
    if ticket[0] != TICKET_VERSION:
        raise refuse("unknown ticket version")
    if not hmac.compare_digest(ticket[1:5], ticket_key_tag(key)):
        raise refuse("sealed under another ticket key")
    try:
        plain = AESGCM(bytes(key)).decrypt(ticket[5:17], ticket[17:], ticket[:5])
    except InvalidTag:
        raise refuse("altered (authentication tag)") from None
    psk, ipk, (expires,) = plain[:32], plain[32:64], struct.unpack(">Q", plain[64:72])
    try:
        agent = plain[72:].decode("utf-8")
    except UnicodeDecodeError:
        raise refuse("agent name is not UTF-8") from None
    if not agent:
        raise refuse("no agent name")
    if now_ms >= expires:
        raise refuse("expired")
    return TicketState(agent, ipk, psk, expires)


def resumed_mac(psk: bytes, role: str, payload_type: str, payload: bytes) -> bytes:
    """HMAC-SHA256(binder_key(role), PAE("fleet.v1.envelope", payload_type, payload))."""
    return hmac.new(binder_key(psk, role), pae(DOMAIN, payload_type, bytes(payload)), hashlib.sha256).digest()


def sign_resumed(env: envelope_pb2.Envelope, psk: bytes, role: str, ticket: bytes, payload_type: str = "application/vnd.fleet.v1.envelope+proto") -> signed_pb2.SignedEnvelope:
    """A resumed step: security.key_id is left as the sender's identity key id (set it first)."""
    payload = serialize_envelope(env, payload_type)
    return signed_pb2.SignedEnvelope(payload_type=payload_type, payload=payload, signature=signed_pb2.Signature(
        scheme=HMAC_SHA256, key_id=ticket_key_id(ticket), sig=resumed_mac(psk, role, payload_type, payload)))


def verify_resumed(se: signed_pb2.SignedEnvelope, psk: bytes, role: str, ticket: bytes, now_ms: int) -> envelope_pb2.Envelope:
    """Step 1 of verification for a resumed step sent by `role`: scheme HMAC_SHA256 (/signature/scheme),
    key id "ticket:" + base64url(ticket) (/signature/keyId), MAC under binder_key(role) compared in
    constant time (/signature/sig), all before the payload is parsed; then the payload, and its
    freshness at now_ms (the message's created_at and ttl, spec/signing.md). No signature: /signature."""
    if not se.HasField("signature"):
        raise fail(AUTH, "a resumed step carries a signature", "/signature")
    sig = se.signature
    if sig.scheme != HMAC_SHA256:
        raise fail(AUTH, "a resumed step is HMAC_SHA256 (an Ed25519 step cannot answer or continue a resumed handshake)", "/signature/scheme")
    if not hmac.compare_digest(sig.key_id.encode("utf-8"), ticket_key_id(ticket).encode("ascii")):
        raise fail(AUTH, "the key id is not the resumed ticket's", "/signature/keyId")
    if not hmac.compare_digest(bytes(sig.sig), resumed_mac(psk, role, se.payload_type, se.payload)):
        raise fail(AUTH, f"the MAC does not verify under the {role} binder key", "/signature/sig")
    env = parse_envelope(se.payload_type, se.payload)
    try:
        ReplayGuard().check_time(ts_ms(env.created_at), env.ttl_seconds, now_ms)
    except FleetError as e:
        if 600 <= e.code < 700:  # inside a handshake a 6xx verification failure is 104
            raise fail(AUTH, f"{e.code} {e.detail}", e.pointer) from None
        raise
    return env


def open_resumed_hello(se: signed_pb2.SignedEnvelope, ticket_key: bytes, now_ms: int) -> tuple[envelope_pb2.Envelope, TicketState]:
    """The responder's step 1 on a resumed Hello: key id -> ticket, ticket opened under our key at
    now_ms, MAC under binder_key("initiator") of its PSK; then the sender is the ticket's agent, its
    security.key_id the ticket identity key's id and Hello.identity_public_key that key (/signature/keyId)."""
    if not se.HasField("signature"):
        raise fail(AUTH, "a resumed step carries a signature", "/signature")
    if se.signature.scheme != HMAC_SHA256:
        raise fail(AUTH, "a resumed Hello is HMAC_SHA256", "/signature/scheme")
    ticket = ticket_from_key_id(se.signature.key_id)
    state = open_ticket(ticket_key, ticket, now_ms)
    env = verify_resumed(se, state.psk, "initiator", ticket, now_ms)
    hello = env.body.hello if env.HasField("body") and env.body.WhichOneof("kind") == "hello" else None
    if (hello is None or env.sender != state.agent or env.security.key_id != key_id_for(state.identity_public_key)
            or bytes(hello.identity_public_key) != state.identity_public_key):
        raise fail(AUTH, "the resumed Hello is not from the agent and key the ticket was issued to", "/signature/keyId")
    return env, state


def decode_signed(data: bytes) -> signed_pb2.SignedEnvelope:
    return codec.decode(signed_pb2.SignedEnvelope, data)
