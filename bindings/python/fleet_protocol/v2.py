"""The original Fleet Protocol's v2 FleetMessage (spec/legacy-v2.md): its JSON and binary forms,
its HMAC signatures, conversion to and from v3 envelopes, and the builder its users know:

    MessageBuilder().sender("agent-alpha").recipient("agent-beta").type(MessageType.REQUEST) \\
        .payload({"action": "scan"}).build()

Python writes the v2 JSON exactly as the original did (json.dumps defaults), so signatures made by
the original library verify here byte for byte."""
from __future__ import annotations

import base64
import enum
import hashlib
import hmac
import json
import struct
import time
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Optional

from google.protobuf.timestamp_pb2 import Timestamp

from ._proto.fleet.v1 import address_pb2, envelope_pb2, payload_pb2
from .errors import ErrorCode, fail

V2_PROTOCOL_VERSION = 2
V3_PROTOCOL_VERSION = "3.0"
MAX_PAYLOAD_BYTES = 1024 * 1024
DEFAULT_TTL = 300


class MessageType(str, enum.Enum):
    REQUEST = "REQUEST"
    RESPONSE = "RESPONSE"
    EVENT = "EVENT"
    COMMAND = "COMMAND"
    QUERY = "QUERY"
    STATUS = "STATUS"
    ERROR = "ERROR"


class MessagePriority(enum.IntEnum):
    LOW = 0
    NORMAL = 1
    HIGH = 2
    CRITICAL = 3


_TYPES = list(MessageType)  # binary type byte = index in this order


@dataclass
class FleetMessage:
    """A v2 message, field for field."""

    sender: str
    recipient: str
    message_type: MessageType
    payload: Any = None
    timestamp: float = field(default_factory=time.time)
    message_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    in_reply_to: Optional[str] = None
    encoding: str = "json"
    priority: MessagePriority = MessagePriority.NORMAL
    ttl: int = DEFAULT_TTL
    requires_ack: bool = False
    capabilities_needed: list[str] = field(default_factory=list)
    signature: Optional[str] = None
    encrypted: bool = False

    # ---- JSON ----
    def to_dict(self) -> dict:
        return {
            "header": {"sender": self.sender, "recipient": self.recipient, "message_type": MessageType(self.message_type).value,
                       "timestamp": self.timestamp, "message_id": self.message_id, "in_reply_to": self.in_reply_to},
            "body": {"payload": self.payload, "encoding": self.encoding},
            "metadata": {"priority": int(self.priority), "ttl": self.ttl, "requires_ack": self.requires_ack,
                         "capabilities_needed": list(self.capabilities_needed)},
            "security": {"signature": self.signature, "encrypted": self.encrypted},
        }

    def to_json(self, indent: Optional[int] = None) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    @staticmethod
    def from_dict(d: Any) -> "FleetMessage":
        try:
            h, b, m, s = d["header"], d["body"], d.get("metadata", {}), d.get("security", {})
            msg = FleetMessage(
                sender=h["sender"], recipient=h["recipient"], message_type=MessageType(h["message_type"]), payload=b.get("payload"),
                timestamp=h["timestamp"], message_id=h["message_id"], in_reply_to=h.get("in_reply_to"), encoding=b.get("encoding", "json"),
                priority=MessagePriority(m.get("priority", 1)), ttl=m.get("ttl", DEFAULT_TTL), requires_ack=m.get("requires_ack", False),
                capabilities_needed=list(m.get("capabilities_needed", [])), signature=s.get("signature"), encrypted=s.get("encrypted", False))
        except (KeyError, TypeError, ValueError) as e:
            raise fail(ErrorCode.ERROR_CODE_VALIDATION_WRONG_TYPE, f"not a v2 FleetMessage: {e!r}") from None
        return msg

    @staticmethod
    def from_json(text: str | bytes) -> "FleetMessage":
        try:
            d = json.loads(text)
        except ValueError:
            raise fail(ErrorCode.ERROR_CODE_WIRE_MALFORMED, "v2 JSON does not parse") from None
        return FleetMessage.from_dict(d)

    # ---- binary (lossy, as in the original) ----
    def to_binary(self) -> bytes:
        payload = json.dumps(self.payload).encode("utf-8")
        body = (struct.pack(">H", V2_PROTOCOL_VERSION) + bytes([_TYPES.index(MessageType(self.message_type))])
                + uuid.UUID(self.message_id).bytes + hashlib.sha256(self.sender.encode()).digest()[:16]
                + hashlib.sha256(self.recipient.encode()).digest()[:16] + struct.pack(">d", self.timestamp)
                + struct.pack(">I", len(payload)) + payload)
        return struct.pack(">I", len(body)) + body

    @staticmethod
    def from_binary(data: bytes) -> "FleetMessage":
        """Names come back as "agent:<first 12 hex of the hash>"; priority, ttl, requires_ack,
        capabilities, in_reply_to and the signature are not in the binary form and take defaults."""
        if len(data) < 71:
            raise fail(ErrorCode.ERROR_CODE_WIRE_TRUNCATED, "v2 binary message shorter than its fixed header")
        (n,) = struct.unpack(">I", data[:4])
        if n != len(data) - 4:
            raise fail(ErrorCode.ERROR_CODE_WIRE_TRUNCATED, f"v2 frame length {n} but {len(data) - 4} bytes follow")
        (ver,) = struct.unpack(">H", data[4:6])
        if ver != V2_PROTOCOL_VERSION:
            raise fail(ErrorCode.ERROR_CODE_DELIVERY_UNSUPPORTED_VERSION, f"v2 binary protocol version {ver}")
        t = data[6]
        if t >= len(_TYPES):
            raise fail(ErrorCode.ERROR_CODE_VALIDATION_UNKNOWN_ENUM, f"v2 message type byte {t}")
        (ts,) = struct.unpack(">d", data[55:63])
        (plen,) = struct.unpack(">I", data[63:67])
        if 67 + plen != len(data):
            raise fail(ErrorCode.ERROR_CODE_WIRE_MALFORMED, "v2 payload length does not match")
        if plen > MAX_PAYLOAD_BYTES:
            raise fail(ErrorCode.ERROR_CODE_VALIDATION_OUT_OF_RANGE, "v2 payload above 1 MiB")
        try:
            payload = json.loads(data[67:].decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise fail(ErrorCode.ERROR_CODE_WIRE_MALFORMED, "v2 payload is not UTF-8 JSON") from None
        return FleetMessage(sender="agent:" + data[23:29].hex(), recipient="agent:" + data[39:45].hex(), message_type=_TYPES[t],
                            payload=payload, timestamp=ts, message_id=str(uuid.UUID(bytes=data[7:23])), encoding="binary")

    # ---- validation (the original's limits) ----
    def validate(self) -> tuple[bool, list[str]]:
        errors = []
        if not isinstance(self.sender, str) or not 1 <= len(self.sender) <= 128:
            errors.append("sender must be 1..128 characters")
        if not isinstance(self.recipient, str) or not self.recipient:
            errors.append("recipient is required")
        if not isinstance(self.message_id, str) or not 1 <= len(self.message_id) <= 64:
            errors.append("message_id must be 1..64 characters")
        if not isinstance(self.ttl, int) or self.ttl < 0:
            errors.append("ttl must be >= 0")
        if len(json.dumps(self.payload).encode("utf-8")) > MAX_PAYLOAD_BYTES:
            errors.append("payload is larger than 1 MiB")
        return (not errors, errors)

    # ---- signatures ----
    def signing_bytes(self) -> bytes:
        """The original's canonical bytes: six header/body fields, sorted keys, compact separators."""
        return json.dumps({"message_id": self.message_id, "message_type": MessageType(self.message_type).value, "payload": self.payload,
                           "recipient": self.recipient, "sender": self.sender, "timestamp": self.timestamp},
                          sort_keys=True, separators=(",", ":")).encode("utf-8")

    def sign(self, key: bytes) -> str:
        """HMAC-SHA512 over signing_bytes(), base64url without padding, stored in security.signature."""
        self.signature = _b64(hmac.new(key, self.signing_bytes(), hashlib.sha512).digest())
        return self.signature

    def verify(self, key: bytes) -> None:
        """601 unless security.signature is the HMAC-SHA512 of this message under key (constant-time)."""
        want = _b64(hmac.new(key, self.signing_bytes(), hashlib.sha512).digest())
        if not isinstance(self.signature, str) or not hmac.compare_digest(want.encode(), self.signature.encode()):
            raise fail(ErrorCode.ERROR_CODE_SECURITY_SIGNATURE_INVALID, "v2 HMAC signature does not verify")

    def authenticator_sha256(self, key: bytes) -> str:
        """The original's HMAC-SHA256 authenticator (hex) over the same canonical bytes."""
        return hmac.new(key, self.signing_bytes(), hashlib.sha256).hexdigest()

    def verify_authenticator_sha256(self, key: bytes, mac_hex: str) -> None:
        if not hmac.compare_digest(self.authenticator_sha256(key).encode(), str(mac_hex).encode()):
            raise fail(ErrorCode.ERROR_CODE_SECURITY_SIGNATURE_INVALID, "v2 HMAC-SHA256 authenticator does not verify")

    # ---- v3 ----
    def to_v3(self) -> envelope_pb2.Envelope:
        """An unsigned v3 Envelope (sign it with signing.sign_envelope). Not carried: the v2 signature and
        encrypted flag (the v3 envelope is signed anew), encoding; ttl 0 becomes 1 (v3 requires >= 1)."""
        ok, errors = self.validate()
        if not ok:
            raise fail(ErrorCode.ERROR_CODE_VALIDATION_OUT_OF_RANGE, "; ".join(errors))
        env = envelope_pb2.Envelope(
            id=self.message_id, sender=self.sender, recipient=recipient_from_text(self.recipient),
            type=envelope_pb2.MessageType.Value("MESSAGE_TYPE_" + MessageType(self.message_type).value),
            priority=int(self.priority) + 1, ttl_seconds=max(1, int(self.ttl)), in_reply_to=self.in_reply_to or "",
            requires_ack=bool(self.requires_ack), capabilities_needed=list(self.capabilities_needed), protocol_version=V3_PROTOCOL_VERSION)
        env.created_at.CopyFrom(_ts_from_float(self.timestamp))
        env.body.application.CopyFrom(payload_pb2.ApplicationPayload(media_type="application/json", json=json.dumps(self.payload)))
        return env

    @staticmethod
    def from_v3(env: envelope_pb2.Envelope) -> "FleetMessage":
        """A v2 message from a v3 envelope whose body is application JSON. Not carried: correlation_id,
        thread_id, protocol_version, security (key id, nonce), the v3 signature; typed bodies and binary
        payloads have no v2 form (710); PRIORITY_UNSPECIFIED becomes NORMAL."""
        kind = env.body.WhichOneof("kind") if env.HasField("body") else None
        if kind != "application" or env.body.application.WhichOneof("content") != "json":
            raise fail(ErrorCode.ERROR_CODE_WIRE_UNSUPPORTED_PAYLOAD_TYPE, f"a v3 {kind or 'encrypted'} body has no v2 form (only application JSON)")
        try:
            payload = json.loads(env.body.application.json)
        except ValueError:
            raise fail(ErrorCode.ERROR_CODE_VALIDATION_WRONG_TYPE, "application json does not parse", "/body/application/json") from None
        t = envelope_pb2.MessageType.Name(env.type)[len("MESSAGE_TYPE_"):]
        if t not in MessageType.__members__:
            raise fail(ErrorCode.ERROR_CODE_VALIDATION_UNKNOWN_ENUM, f"message type {env.type} has no v2 form", "/type")
        return FleetMessage(sender=env.sender, recipient=recipient_to_text(env.recipient), message_type=MessageType(t), payload=payload,
                            timestamp=_float_from_ts(env.created_at), message_id=env.id, in_reply_to=env.in_reply_to or None,
                            priority=MessagePriority(env.priority - 1 if env.priority else 1), ttl=env.ttl_seconds, requires_ack=env.requires_ack,
                            capabilities_needed=list(env.capabilities_needed))


def _b64(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).decode("ascii").rstrip("=")


def _ts_from_float(ts: float) -> Timestamp:
    # Exact decimal of the float's shortest repr, so 1700000123.456789 is 1700000123 s + 456789000 ns.
    d = Decimal(repr(float(ts)))
    seconds = int(d // 1)
    nanos = int(((d - seconds) * 1_000_000_000).to_integral_value())
    if nanos >= 1_000_000_000:
        seconds, nanos = seconds + 1, nanos - 1_000_000_000
    return Timestamp(seconds=seconds, nanos=nanos)


def _float_from_ts(t: Timestamp) -> float:
    return float(Decimal(t.seconds) + Decimal(t.nanos) / Decimal(1_000_000_000))


def recipient_from_text(text: str) -> address_pb2.Recipient:
    """"fleet:broadcast", "fleet:discovery", "fleet:hub", "group:<g>", "capability:<c>", else an agent name."""
    if text == "fleet:broadcast":
        return address_pb2.Recipient(broadcast=True)
    if text == "fleet:discovery":
        return address_pb2.Recipient(discovery=True)
    if text == "fleet:hub":
        return address_pb2.Recipient(hub=True)
    if text.startswith("group:"):
        return address_pb2.Recipient(group=text[6:])
    if text.startswith("capability:"):
        return address_pb2.Recipient(capability=text[11:])
    return address_pb2.Recipient(agent=text)


def recipient_to_text(r: address_pb2.Recipient) -> str:
    kind = r.WhichOneof("target")
    if kind in ("broadcast", "discovery", "hub"):
        return f"fleet:{kind}"
    if kind in ("group", "capability"):
        return f"{kind}:{getattr(r, kind)}"
    return r.agent


class MessageBuilder:
    """The original library's builder: MessageBuilder().sender(..).recipient(..).type(..).payload(..).build()."""

    def __init__(self) -> None:
        self._f: dict[str, Any] = {}

    def sender(self, v: str) -> "MessageBuilder":
        self._f["sender"] = v
        return self

    def recipient(self, v: str) -> "MessageBuilder":
        self._f["recipient"] = v
        return self

    def type(self, v: MessageType | str) -> "MessageBuilder":
        self._f["message_type"] = MessageType(v)
        return self

    def payload(self, v: Any) -> "MessageBuilder":
        self._f["payload"] = v
        return self

    def priority(self, v: MessagePriority | int) -> "MessageBuilder":
        self._f["priority"] = MessagePriority(v)
        return self

    def ttl(self, v: int) -> "MessageBuilder":
        self._f["ttl"] = v
        return self

    def requires_ack(self, v: bool = True) -> "MessageBuilder":
        self._f["requires_ack"] = v
        return self

    def in_reply_to(self, v: str) -> "MessageBuilder":
        self._f["in_reply_to"] = v
        return self

    def capabilities(self, *caps: str) -> "MessageBuilder":
        self._f["capabilities_needed"] = list(caps)
        return self

    def message_id(self, v: str) -> "MessageBuilder":
        self._f["message_id"] = v
        return self

    def timestamp(self, v: float) -> "MessageBuilder":
        self._f["timestamp"] = v
        return self

    def build(self) -> FleetMessage:
        """709 when sender, recipient or type is missing or a limit is broken."""
        missing = [k for k in ("sender", "recipient", "message_type") if k not in self._f]
        if missing:
            raise fail(ErrorCode.ERROR_CODE_VALIDATION_MISSING_FIELD, f"MessageBuilder: {', '.join(missing)} not set")
        msg = FleetMessage(**self._f)
        ok, errors = msg.validate()
        if not ok:
            raise fail(ErrorCode.ERROR_CODE_VALIDATION_OUT_OF_RANGE, "; ".join(errors))
        return msg

    def build_v3(self) -> envelope_pb2.Envelope:
        return self.build().to_v3()
