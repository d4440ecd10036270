"""Sessions (spec/sessions.md): X25519 + HKDF-SHA256 keys, HMAC-SHA256 messages with strictly
increasing sequences, optional ChaCha20-Poly1305 / AES-256-GCM bodies, batches."""
from __future__ import annotations

import hashlib
import hmac
import struct
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.exceptions import InvalidTag

from . import codec
from ._proto.fleet.v1 import envelope_pb2, signed_pb2
from .errors import ErrorCode, fail
from .pae import pae, u64be
from .signing import BATCH_PROTO, ENVELOPE_JSON, ENVELOPE_PROTO, parse_envelope

CHACHA = envelope_pb2.ENCRYPTION_ALGORITHM_CHACHA20_POLY1305
AES_GCM = envelope_pb2.ENCRYPTION_ALGORITHM_AES_256_GCM
MAX_SEQUENCE = 2**64 - 1
_RAW = dict(encoding=serialization.Encoding.Raw, format=serialization.PublicFormat.Raw)


def create_ephemeral() -> tuple[X25519PrivateKey, bytes]:
    sk = X25519PrivateKey.generate()
    return sk, sk.public_key().public_bytes(**_RAW)


def x25519_shared(our_private: X25519PrivateKey | bytes, their_public: bytes) -> bytes:
    if isinstance(our_private, (bytes, bytearray)):
        our_private = X25519PrivateKey.from_private_bytes(bytes(our_private))
    if len(their_public) != 32:
        raise fail(ErrorCode.ERROR_CODE_SECURITY_MALFORMED_KEY, "an X25519 public key is 32 bytes")
    try:
        shared = our_private.exchange(X25519PublicKey.from_public_bytes(bytes(their_public)))
    except ValueError:  # OpenSSL refuses an all-zero result
        shared = bytes(32)
    if shared == bytes(32):
        raise fail(ErrorCode.ERROR_CODE_SECURITY_MALFORMED_KEY, "X25519 result is all zero (small-order peer key)")
    return shared


def transcript_hash(*parts: bytes | str) -> bytes:
    """SHA-256(PAE("fleet.v1.session-transcript", parts...)); the handshake passes (initiator,
    initiator_key, responder, responder_key, hello_payload, welcome_payload) (spec/handshake.md)."""
    return hashlib.sha256(pae("fleet.v1.session-transcript", *parts)).digest()


def finished(key: bytes, role: str, session_id: str, transcript: bytes) -> bytes:
    """Key confirmation: HMAC-SHA256(role's directional MAC key, PAE("fleet.v1.handshake-finished", role, session_id, transcript))."""
    return hmac.new(key, pae("fleet.v1.handshake-finished", role, session_id, transcript), hashlib.sha256).digest()


@dataclass
class SessionKeys:
    i2r_mac: bytes
    r2i_mac: bytes
    i2r_enc: bytes
    r2i_enc: bytes


def derive_keys(shared: bytes, transcript: bytes, session_id: str) -> SessionKeys:
    okm = HKDF(algorithm=hashes.SHA256(), length=128, salt=transcript, info=pae("fleet.v1.session-keys", session_id)).derive(shared)
    return SessionKeys(okm[0:32], okm[32:64], okm[64:96], okm[96:128])


def session_mac(key: bytes, session_id: str, sequence: int, payload_type: str, payload: bytes) -> bytes:
    return hmac.new(key, pae("fleet.v1.session", session_id, u64be(sequence), payload_type, payload), hashlib.sha256).digest()


def body_nonce(direction: str, sequence: int) -> bytes:
    return (b"\x01" if direction == "i2r" else b"\x02") + b"\x00\x00\x00" + struct.pack(">Q", sequence)


def _aead(algorithm: int, key: bytes):
    if algorithm == CHACHA:
        return ChaCha20Poly1305(key)
    if algorithm == AES_GCM:
        return AESGCM(key)
    raise fail(ErrorCode.ERROR_CODE_SECURITY_DECRYPTION_FAILED, f"unknown encryption algorithm {algorithm}")


class Session:
    """One side of an established session. ``role`` is "initiator" or "responder"."""

    def __init__(self, role: str, session_id: str, keys: SessionKeys, transcript: bytes = b"") -> None:
        self.role, self.session_id, self.keys, self.transcript = role, session_id, keys, transcript
        # Key confirmation (spec/handshake.md): the responder's sequence-1 message carries Finished_r;
        # the initiator accepts no responder message before it.
        self.finished_i = finished(keys.i2r_mac, "initiator", session_id, transcript)
        self.finished_r = finished(keys.r2i_mac, "responder", session_id, transcript)
        self.confirmed = role == "responder"
        out_dir = "i2r" if role == "initiator" else "r2i"
        self.out_dir, self.in_dir = out_dir, ("r2i" if out_dir == "i2r" else "i2r")
        self._out_mac = keys.i2r_mac if out_dir == "i2r" else keys.r2i_mac
        self._in_mac = keys.r2i_mac if out_dir == "i2r" else keys.i2r_mac
        self._out_enc = keys.i2r_enc if out_dir == "i2r" else keys.r2i_enc
        self._in_enc = keys.r2i_enc if out_dir == "i2r" else keys.i2r_enc
        self.sent = 0
        self.received = 0

    @staticmethod
    def derive(role: str, session_id: str, our_ephemeral_private, their_ephemeral_public: bytes, transcript: bytes) -> "Session":
        shared = x25519_shared(our_ephemeral_private, their_ephemeral_public)
        return Session(role, session_id, derive_keys(shared, transcript, session_id), transcript)

    def _finished_out(self, seq: int) -> bytes:
        return self.finished_r if self.role == "responder" and seq == 1 else b""

    def seal(self, env: envelope_pb2.Envelope, *, encrypt: bool = False, algorithm: int = CHACHA, payload_type: str = ENVELOPE_PROTO) -> signed_pb2.SessionEnvelope:
        if self.sent >= MAX_SEQUENCE:
            raise fail(ErrorCode.ERROR_CODE_SECURITY_DECRYPTION_FAILED, "session direction exhausted; open a new session")
        seq = self.sent + 1
        if encrypt:
            body = codec.encode(env.body, check=False)
            nonce = body_nonce(self.out_dir, seq)
            ad = pae("fleet.v1.session-body", self.session_id, u64be(seq), env.id)
            env = envelope_pb2.Envelope.FromString(env.SerializeToString())
            env.ClearField("body")
            env.body_ciphertext = _aead(algorithm, self._out_enc).encrypt(nonce, body, ad)
            env.security.encryption.CopyFrom(envelope_pb2.EncryptionHeader(algorithm=algorithm, session_id=self.session_id, nonce=nonce))
        payload = codec.encode(env) if payload_type == ENVELOPE_PROTO else codec.to_json_bytes(env)
        self.sent = seq
        return signed_pb2.SessionEnvelope(session_id=self.session_id, sequence=seq, payload_type=payload_type, payload=payload,
                                          mac=session_mac(self._out_mac, self.session_id, seq, payload_type, payload), finished=self._finished_out(seq))

    def seal_batch(self, envs: list[envelope_pb2.Envelope]) -> signed_pb2.SessionEnvelope:
        batch = signed_pb2.EnvelopeBatch(envelopes=[codec.encode(e) for e in envs])
        payload = codec.encode(batch)
        seq = self.sent + 1
        self.sent = seq
        return signed_pb2.SessionEnvelope(session_id=self.session_id, sequence=seq, payload_type=BATCH_PROTO, payload=payload,
                                          mac=session_mac(self._out_mac, self.session_id, seq, BATCH_PROTO, payload), finished=self._finished_out(seq))

    def authenticate(self, se: signed_pb2.SessionEnvelope) -> None:
        """Session id (601), MAC (601), key confirmation (104), sequence (604); changes nothing."""
        if se.session_id != self.session_id:
            raise fail(ErrorCode.ERROR_CODE_SECURITY_SIGNATURE_INVALID, "wrong session id")
        if len(se.mac) != 32 or not hmac.compare_digest(se.mac, session_mac(self._in_mac, self.session_id, se.sequence, se.payload_type, se.payload)):
            raise fail(ErrorCode.ERROR_CODE_SECURITY_SIGNATURE_INVALID, "session MAC does not verify")
        auth = ErrorCode.ERROR_CODE_HANDSHAKE_AUTH_FAILED
        if self.role == "initiator" and not self.confirmed:
            if se.sequence != 1:
                raise fail(auth, "a responder message before its Finished", "/sequence")
            if not hmac.compare_digest(se.finished, self.finished_r):
                raise fail(auth, "the responder's Finished is missing or wrong", "/finished")
        elif se.finished:
            raise fail(auth, "a Finished on a message other than the responder's first", "/finished")
        if se.sequence <= self.received:
            raise fail(ErrorCode.ERROR_CODE_SECURITY_REPLAY, f"sequence {se.sequence} is not above {self.received}")

    def open_all(self, se: signed_pb2.SessionEnvelope) -> list:
        """Authenticates, parses, advances the sequence, decrypts. Returns a list of Envelope or
        FleetError (for a batch, each envelope on its own)."""
        self.authenticate(se)
        if se.payload_type == BATCH_PROTO:
            batch = codec.decode(signed_pb2.EnvelopeBatch, se.payload)
            self.received, self.confirmed = se.sequence, True
            out: list = []
            for raw in batch.envelopes:
                try:
                    env = codec.decode(envelope_pb2.Envelope, raw)
                    if env.body_ciphertext:
                        raise fail(ErrorCode.ERROR_CODE_SECURITY_DECRYPTION_FAILED, "an encrypted envelope inside a batch")
                    out.append(env)
                except Exception as e:  # noqa: BLE001 - each envelope is refused on its own
                    out.append(e)
            return out
        if se.payload_type not in (ENVELOPE_PROTO, ENVELOPE_JSON):
            raise fail(ErrorCode.ERROR_CODE_WIRE_UNSUPPORTED_PAYLOAD_TYPE, f"unknown payload type {se.payload_type!r}")
        env = parse_envelope(se.payload_type, se.payload)
        if env.body_ciphertext:
            env = self._decrypt(env, se.sequence)
        self.received, self.confirmed = se.sequence, True
        return [env]

    def open(self, se: signed_pb2.SessionEnvelope) -> envelope_pb2.Envelope:
        out = self.open_all(se)
        if len(out) != 1 or isinstance(out[0], Exception):
            if out and isinstance(out[0], Exception):
                raise out[0]
            raise fail(ErrorCode.ERROR_CODE_WIRE_MALFORMED, "expected one envelope")
        return out[0]

    def _decrypt(self, env: envelope_pb2.Envelope, seq: int) -> envelope_pb2.Envelope:
        enc = env.security.encryption
        if enc.session_id != self.session_id or enc.nonce != body_nonce(self.in_dir, seq):
            raise fail(ErrorCode.ERROR_CODE_SECURITY_DECRYPTION_FAILED, "encryption header does not match the session and sequence")
        ad = pae("fleet.v1.session-body", self.session_id, u64be(seq), env.id)
        try:
            body = _aead(enc.algorithm, self._in_enc).decrypt(enc.nonce, env.body_ciphertext, ad)
        except InvalidTag:
            raise fail(ErrorCode.ERROR_CODE_SECURITY_DECRYPTION_FAILED, "body does not decrypt") from None
        out = envelope_pb2.Envelope()
        out.CopyFrom(env)
        out.ClearField("body_ciphertext")
        out.body.CopyFrom(codec.decode(envelope_pb2.Body, body, check=False))
        codec.validate(out)
        return out
