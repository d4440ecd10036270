"""Replay protection (spec/signing.md, "Replay protection"): skew, expiry, seen ids.

The seen-id cache is bounded (``capacity``, default 65,536 pairs). A pair is remembered until
min(created_at + ttl, created_at + skew); when the cache is full of live ids a new message is
refused with 804 (retry later) rather than forgetting one."""
from __future__ import annotations

import heapq

from .errors import ErrorCode, fail

DEFAULT_SKEW_MS = 120_000
DEFAULT_CAPACITY = 65_536
# The largest ttl_seconds any receiver accepts (spec/signing.md): 30 days. Above it, 709.
MAX_TTL_SECONDS = 2_592_000


class ReplayGuard:
    def __init__(self, skew_ms: int = DEFAULT_SKEW_MS, capacity: int = DEFAULT_CAPACITY) -> None:
        self.skew_ms = skew_ms
        self.capacity = capacity
        self._until: dict[tuple[str, str], int] = {}
        self._heap: list[tuple[int, tuple[str, str]]] = []

    def __len__(self) -> int:
        return len(self._until)

    def check_time(self, created_ms: int, ttl_seconds: int, now_ms: int) -> None:
        if abs(now_ms - created_ms) > self.skew_ms:
            raise fail(ErrorCode.ERROR_CODE_SECURITY_CLOCK_SKEW, f"created_at is {(now_ms - created_ms) / 1000:.0f} s from now (skew {self.skew_ms // 1000} s)")
        if ttl_seconds > MAX_TTL_SECONDS:
            raise fail(ErrorCode.ERROR_CODE_VALIDATION_OUT_OF_RANGE, f"ttl_seconds {ttl_seconds} is over the maximum {MAX_TTL_SECONDS} (30 days)")
        if now_ms >= created_ms + ttl_seconds * 1000:
            raise fail(ErrorCode.ERROR_CODE_SECURITY_TOKEN_EXPIRED, "message expired (created_at + ttl_seconds)")

    def _sweep(self, now_ms: int) -> None:
        while self._heap and self._heap[0][0] <= now_ms:
            until, key = heapq.heappop(self._heap)
            if self._until.get(key) == until:
                del self._until[key]

    def check(self, sender: str, msg_id: str, created_ms: int, ttl_seconds: int, now_ms: int, *, remember: bool = True) -> None:
        """605, 602, 604, 804 in that order; remembers the pair when it passes."""
        self.check_time(created_ms, ttl_seconds, now_ms)
        self._sweep(now_ms)
        key = (sender, msg_id)
        if key in self._until:
            raise fail(ErrorCode.ERROR_CODE_SECURITY_REPLAY, f"message {msg_id} from {sender} was already accepted")
        if not remember:
            return
        if len(self._until) >= self.capacity:
            raise fail(ErrorCode.ERROR_CODE_DELIVERY_BUSY, "replay cache full of live ids; retry later")
        until = min(created_ms + ttl_seconds * 1000, created_ms + self.skew_ms) + 1
        self._until[key] = until
        heapq.heappush(self._heap, (until, key))
