"""Single-flight: concurrent calls for one key in this process run the work once and share its outcome."""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")


class _Flight(Generic[T]):
    def __init__(self) -> None:
        self.done = threading.Event()
        self.outcome: tuple[T] | None = None
        self.error: Exception | None = None


class SingleFlight(Generic[T]):
    """Stampede protection: while a call for a key runs, callers of the same key wait for it instead.

    Per process only: N API replicas each run the work at most once per key at a time.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._flights: dict[Hashable, _Flight[T]] = {}

    def run(self, key: Hashable, work: Callable[[], T]) -> T:
        """work()'s result, or the result of the call for `key` already running; its error is raised to all."""
        with self._lock:
            flight = self._flights.get(key)
            leader = flight is None
            if flight is None:
                flight = self._flights[key] = _Flight()
        if not leader:
            flight.done.wait()
            if flight.outcome is None:
                raise flight.error or RuntimeError(f"the call for {key!r} was interrupted")
            return flight.outcome[0]
        try:
            result = work()
            flight.outcome = (result,)
            return result
        except Exception as error:
            flight.error = error
            raise
        finally:
            # Removed before waking the followers: a call that starts after this one ended runs afresh.
            with self._lock:
                del self._flights[key]
            flight.done.set()
