"""Heartbeat agreement (spec/handshake.md "Negotiation"): per field, zero means the default
(5 s / 10 s / 15 s / 30 s), the larger of the two proposals wins, capped at 30 s / 60 s / 90 s /
120 s; a proposal whose thresholds are not ordered (degraded <= suspect <= dead, after the
defaults) is refused with 709. Both sides compute the same agreement."""
from __future__ import annotations

from ._proto.fleet.v1 import handshake_pb2
from .errors import ErrorCode, fail

FIELDS = ("interval_ms", "degraded_after_ms", "suspect_after_ms", "dead_after_ms")
HEARTBEAT_DEFAULTS = {"interval_ms": 5_000, "degraded_after_ms": 10_000, "suspect_after_ms": 15_000, "dead_after_ms": 30_000}
HEARTBEAT_CAPS = {"interval_ms": 30_000, "degraded_after_ms": 60_000, "suspect_after_ms": 90_000, "dead_after_ms": 120_000}


def effective(p: handshake_pb2.HeartbeatParams, pointer: str = "/heartbeat") -> dict[str, int]:
    """The proposal with every zero replaced by its default; 709 when its thresholds are not ordered."""
    v = {f: getattr(p, f) or HEARTBEAT_DEFAULTS[f] for f in FIELDS}
    if not v["degraded_after_ms"] <= v["suspect_after_ms"] <= v["dead_after_ms"]:
        raise fail(ErrorCode.ERROR_CODE_VALIDATION_OUT_OF_RANGE, "heartbeat thresholds must be ordered: degraded <= suspect <= dead", pointer)
    return v


def agree_heartbeat(mine: handshake_pb2.HeartbeatParams, theirs: handshake_pb2.HeartbeatParams) -> handshake_pb2.HeartbeatParams:
    """The agreement both sides compute from the Hello's and the Welcome's proposals (symmetric)."""
    a, b = effective(mine), effective(theirs)
    return handshake_pb2.HeartbeatParams(**{f: min(max(a[f], b[f]), HEARTBEAT_CAPS[f]) for f in FIELDS})
