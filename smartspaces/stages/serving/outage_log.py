"""Logs a dependency's failures without flooding the log: the first at once, then one line per interval with
the count since (an outage under load fails thousands of requests a second)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

log = logging.getLogger("smartspaces.stages.serving")

OUTAGE_LOG_EVERY_S = 10.0


class OutageLog:
    def __init__(
        self, what: str, every_s: float = OUTAGE_LOG_EVERY_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._what = what
        self._every_s = every_s
        self._clock = clock
        self._last_logged: float | None = None
        self._unlogged = 0

    def failed(self, error: BaseException) -> bool:
        """Counts the failure; logs it (with the count of those not logged) when due. True when it logged."""
        now = self._clock()
        if self._last_logged is not None and now - self._last_logged < self._every_s:
            self._unlogged += 1
            return False
        since = f" ({self._unlogged} more since the last line)" if self._unlogged else ""
        log.warning("%s: %s: %s%s", self._what, type(error).__name__, error, since)
        self._last_logged, self._unlogged = now, 0
        return True
