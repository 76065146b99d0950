"""Per-key rate limiting: one token bucket per key holder, with an injectable clock.

A bucket holds up to ``burst`` tokens and refills at ``per_minute / 60`` tokens a second.
Each request takes one token; with none left the request is refused and told how many
seconds to wait (``Retry-After``, rounded up to a whole second, at least 1).

Buckets are keyed by the key's configured name (its audit identity), so a rotated key
that keeps its name keeps its bucket, and a name removed from the configuration has its
bucket dropped (``forget_except``). Everything runs on the event loop's thread, and each
check is a few arithmetic operations under a lock (the loop is the only caller, the lock
keeps the class safe for tests and threads anyway).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

Clock = Callable[[], float]


@dataclass
class TokenBucket:
    """``burst`` tokens at most, refilled continuously at ``rate`` tokens per second."""

    rate: float
    burst: int
    tokens: float
    updated: float

    def take(self, now: float) -> float:
        """Take one token; 0.0 if granted, else the seconds until one is available."""
        elapsed = max(0.0, now - self.updated)
        self.tokens = min(float(self.burst), self.tokens + elapsed * self.rate)
        self.updated = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate


class RateLimiter:
    """One bucket per name; ``per_minute == 0`` turns limiting off."""

    def __init__(self, per_minute: float, burst: int, clock: Clock = time.monotonic) -> None:
        if per_minute < 0 or burst < 1:
            raise ValueError("per_minute must be >= 0 and burst >= 1")
        self.rate = per_minute / 60.0
        self.burst = burst
        self.clock = clock
        self._buckets: dict[str, TokenBucket] = {}
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def check(self, name: str) -> int | None:
        """None if ``name`` may make a request now, else the whole seconds to wait (>= 1)."""
        if not self.enabled:
            return None
        now = self.clock()
        with self._lock:
            bucket = self._buckets.get(name)
            if bucket is None:
                bucket = TokenBucket(self.rate, self.burst, float(self.burst), now)
                self._buckets[name] = bucket
            wait = bucket.take(now)
        return None if wait == 0.0 else max(1, math.ceil(wait))

    def forget_except(self, names: Iterable[str]) -> None:
        """Drop the buckets of names no longer configured (keeps memory bounded)."""
        keep = set(names)
        with self._lock:
            for name in [n for n in self._buckets if n not in keep]:
                del self._buckets[name]
