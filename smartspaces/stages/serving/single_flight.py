"""Single-flight: concurrent calls for one key in this event loop run the work once and share its outcome."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")


class SingleFlight(Generic[T]):
    """Stampede protection: while a call for a key runs, callers of the same key await it instead.

    Per process only: N API replicas each run the work at most once per key at a time. Not thread-safe: every
    caller runs on the one event loop that serves the API.
    """

    def __init__(self) -> None:
        self._flights: dict[Hashable, asyncio.Future[T]] = {}

    async def run(self, key: Hashable, work: Callable[[], Awaitable[T]]) -> T:
        """work()'s result, or the result of the call for `key` already running; its error is raised to all."""
        flight = self._flights.get(key)
        if flight is not None:
            # Shielded: a caller that is cancelled while it waits must not cancel the others' answer.
            return await asyncio.shield(flight)
        flight = self._flights[key] = asyncio.get_running_loop().create_future()
        try:
            result = await work()
        except Exception as error:
            flight.set_exception(error)
            flight.exception()  # retrieved here, so a flight without followers logs nothing at collection
            raise
        else:
            flight.set_result(result)
            return result
        finally:
            # Removed as the flight settles: a call that starts after this one ended runs afresh.
            del self._flights[key]
            if not flight.done():
                flight.set_exception(RuntimeError(f"the call for {key!r} was interrupted"))
                flight.exception()
