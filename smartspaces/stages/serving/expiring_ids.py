"""A bounded in-process set of ids that each expire: ids the registry confirmed recently (a miss for a known
space or device skips the existence query), and ids it did not know (a flood of unknown ids costs one query
each per time to live, not one per request)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

# A space or device added to the registry is found at once (only confirmations are kept); one removed from
# it is still served for up to this long.
KNOWN_ID_TTL_S = 300.0
# Bounds the memory a scan over many ids can take; when full the set starts again empty (cheap, and rare).
KNOWN_IDS_MAX = 100_000


class ExpiringIds:
    """A bounded in-process set of ids with a time to live."""

    def __init__(
        self, ttl_s: float = KNOWN_ID_TTL_S, max_size: int = KNOWN_IDS_MAX, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._ttl_s = ttl_s
        self._max_size = max_size
        self._clock = clock
        self._lock = threading.Lock()
        self._expiry: dict[str, float] = {}

    def __contains__(self, entity_id: str) -> bool:
        expiry = self._expiry.get(entity_id)
        return expiry is not None and expiry > self._clock()

    def add(self, entity_id: str) -> None:
        with self._lock:
            if len(self._expiry) >= self._max_size:
                self._expiry.clear()
            self._expiry[entity_id] = self._clock() + self._ttl_s
