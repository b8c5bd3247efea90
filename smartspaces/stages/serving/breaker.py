"""A circuit breaker for the cache: after a failure, skip it for a while instead of waiting for its timeout."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class CircuitBreaker:
    """Closed until a failure; then open for retry_after_s, after which one caller at a time probes again.

    A probe re-arms the window when it is let through, so concurrent callers keep skipping the dependency
    until the probe reports: success closes the breaker, failure keeps it open for another window.
    """

    def __init__(self, retry_after_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._retry_after_s = retry_after_s
        self._clock = clock
        self._lock = threading.Lock()
        self._open_until: float | None = None

    @property
    def is_closed(self) -> bool:
        return self._open_until is None

    def allow(self) -> bool:
        """True when the caller may use the dependency (closed, or this caller is the probe)."""
        with self._lock:
            if self._open_until is None:
                return True
            now = self._clock()
            if now < self._open_until:
                return False
            self._open_until = now + self._retry_after_s
            return True

    def succeeded(self) -> None:
        with self._lock:
            self._open_until = None

    def failed(self) -> bool:
        """Opens (or keeps open) the breaker; True when it was closed, so the caller logs the outage once."""
        with self._lock:
            was_closed = self._open_until is None
            self._open_until = self._clock() + self._retry_after_s
            return was_closed

    def seconds_until_retry(self) -> float:
        with self._lock:
            return 0.0 if self._open_until is None else max(0.0, self._open_until - self._clock())
