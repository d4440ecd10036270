"""Building envelopes: ids, times and the common header fields."""
from __future__ import annotations

import json as _json
import uuid
from typing import Any, Optional

from ._proto.fleet.v1 import address_pb2, envelope_pb2, payload_pb2
from .signing import now_ms, timestamp
from .v2 import recipient_from_text, recipient_to_text

PROTOCOL_VERSION = "3.0"
MessageType = envelope_pb2.MessageType


def recipient(to: str | address_pb2.Recipient) -> address_pb2.Recipient:
    """Text form: "agent", "group:g", "capability:c", "fleet:broadcast", "fleet:discovery", "fleet:hub"."""
    return to if isinstance(to, address_pb2.Recipient) else recipient_from_text(to)


def application(json: Any = None, *, data: Optional[bytes] = None, media_type: Optional[str] = None) -> payload_pb2.ApplicationPayload:
    if data is not None:
        return payload_pb2.ApplicationPayload(media_type=media_type or "application/octet-stream", data=data)
    return payload_pb2.ApplicationPayload(media_type=media_type or "application/json", json=_json.dumps(json, separators=(",", ":")))


def build_envelope(sender: str, to: str | address_pb2.Recipient, *, type: int = envelope_pb2.MESSAGE_TYPE_EVENT, body: Optional[envelope_pb2.Body] = None,
                   id: Optional[str] = None, ttl_seconds: int = 300, requires_ack: bool = False, in_reply_to: str = "", correlation_id: str = "",
                   thread_id: str = "", priority: int = envelope_pb2.PRIORITY_NORMAL, created_ms: Optional[int] = None) -> envelope_pb2.Envelope:
    env = envelope_pb2.Envelope(id=id or str(uuid.uuid4()), sender=sender, recipient=recipient(to), type=type, priority=priority,
                                ttl_seconds=ttl_seconds, requires_ack=requires_ack, in_reply_to=in_reply_to, correlation_id=correlation_id,
                                thread_id=thread_id, protocol_version=PROTOCOL_VERSION)
    env.created_at.CopyFrom(timestamp(now_ms() if created_ms is None else created_ms))
    if body is not None:
        env.body.CopyFrom(body)
    return env


def application_value(env: envelope_pb2.Envelope) -> Any:
    """The JSON value of an application body (None otherwise)."""
    if env.HasField("body") and env.body.WhichOneof("kind") == "application" and env.body.application.WhichOneof("content") == "json":
        return _json.loads(env.body.application.json)
    return None


__all__ = ["recipient", "recipient_to_text", "application", "build_envelope", "application_value", "PROTOCOL_VERSION"]
