"""Bottle identity (spec/bottles.md "Identity"): a bottle is named by (origin, bottle_id), where
origin is the letter's authenticated signer (its envelope sender, bound to the signing key).
Every duplicate check keys on the pair, never on bottle_id alone."""
from __future__ import annotations

import collections
from typing import Callable

from ._proto.fleet.v1 import bottle_pb2, envelope_pb2
from .errors import ErrorCode, fail
from .signing import PinnedKeys, VerifyContext, now_ms, open_signed, ts_ms

MAX_REMEMBERED = 100_000  # bottle names a BottleIds remembers; the oldest is forgotten first


def bottle_key(origin: str, bottle_id: str) -> str:
    """The reference key string: decimal length of origin, ':', origin, '/', id (unambiguous)."""
    return f"{len(origin)}:{origin}/{bottle_id}"


def open_letter(bottle: bottle_pb2.Bottle, keys: PinnedKeys, clock: Callable[[], int] = now_ms) -> envelope_pb2.Envelope:
    """The origin's letter, verified (601/607/611), a BottleLetter (701), not expired at clock() (802)."""
    if not bottle.HasField("letter"):
        raise fail(ErrorCode.ERROR_CODE_VALIDATION_MISSING_FIELD, "bottle without a letter", "/letter")
    env = open_signed(bottle.letter, VerifyContext(keys=keys, replay=None, clock=clock))
    if env.body.WhichOneof("kind") != "bottle_letter":
        raise fail(ErrorCode.ERROR_CODE_WIRE_MALFORMED, "a bottle's letter must carry a BottleLetter", "/letter")
    if clock() >= ts_ms(env.created_at) + env.ttl_seconds * 1000:
        raise fail(ErrorCode.ERROR_CODE_DELIVERY_EXPIRED, f"bottle letter {env.id} expired")
    return env


class BottleIds:
    """The duplicate check of a relay or an inbox, keyed on (origin, bottle_id), bounded to `limit` names."""

    def __init__(self, limit: int = MAX_REMEMBERED) -> None:
        self.limit = limit
        self._seen: collections.OrderedDict[str, None] = collections.OrderedDict()

    def accept(self, origin: str, bottle_id: str) -> bool:
        """True when this (origin, bottle_id) was already seen (a duplicate); remembers it otherwise."""
        k = bottle_key(origin, bottle_id)
        if k in self._seen:
            return True
        self._seen[k] = None
        while len(self._seen) > self.limit:
            self._seen.popitem(last=False)
        return False

    def __len__(self) -> int:
        return len(self._seen)


def accept_bottle(bottle: bottle_pb2.Bottle, keys: PinnedKeys, seen: BottleIds, clock: Callable[[], int] = now_ms) -> tuple[str, str, bool]:
    """(origin, bottle_id, duplicate) for a bottle whose letter verifies."""
    env = open_letter(bottle, keys, clock)
    bottle_id = env.body.bottle_letter.bottle_id
    return env.sender, bottle_id, seen.accept(env.sender, bottle_id)
