"""A token bucket per client: `rate_per_s` requests a second on average, bursts of up to `burst`."""

from __future__ import annotations

import time
from collections.abc import Callable

# Bounds the memory many distinct clients can take; when full the buckets start again full (cheap, and rare).
MAX_CLIENTS = 10_000


class RateLimiter:
    """Buckets by client name (or address). On the event loop only: no lock."""

    def __init__(
        self, rate_per_s: float, burst: int, clock: Callable[[], float] = time.monotonic, max_clients: int = MAX_CLIENTS
    ) -> None:
        self._rate_per_s = rate_per_s
        self._burst = float(burst)
        self._clock = clock
        self._max_clients = max_clients
        # client -> (tokens left, when they were counted)
        self._buckets: dict[str, tuple[float, float]] = {}

    def take(self, client: str) -> float:
        """0 when the request may go ahead (a token is taken); else the seconds until a token is there."""
        now = self._clock()
        tokens, counted_at = self._buckets.get(client, (self._burst, now))
        tokens = min(self._burst, tokens + (now - counted_at) * self._rate_per_s)
        if tokens >= 1.0:
            if len(self._buckets) >= self._max_clients and client not in self._buckets:
                self._buckets.clear()
            self._buckets[client] = (tokens - 1.0, now)
            return 0.0
        self._buckets[client] = (tokens, now)
        return (1.0 - tokens) / self._rate_per_s
