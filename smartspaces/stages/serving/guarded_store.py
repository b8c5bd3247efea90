"""The source of truth behind two guards, so a flood of requests cannot turn into a flood of Cassandra reads.

- **Unknown ids are remembered** (bounded, for api.unknown_id_ttl_s): a second request for an id the registry
  did not know is answered 404 without a query. On Cosmos DB each query costs the request units the ingest
  needs; a space added to the registry is found once its id's time to live is over.
- **Concurrent reads are capped** (api.max_store_reads): beyond the cap a request is answered 503 with
  Retry-After at once rather than queueing behind a slow store. Concurrent misses of one key already share
  one read (single-flight), so the cap counts distinct reads.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

from smartspaces.stages.serving.cassandra_reader import StoreUnavailableError
from smartspaces.stages.serving.expiring_ids import ExpiringIds
from smartspaces.stages.serving.reads import Alarms, CriticalEvents, Readings, ServingStore

T = TypeVar("T")


class StoreBusyError(StoreUnavailableError):
    """Too many reads are waiting for Cassandra: the request is answered 503, to be retried."""


class GuardedStore:
    """A ServingStore in front of another: negative-caches unknown ids and caps the reads in flight."""

    def __init__(self, inner: ServingStore, max_in_flight: int, unknown_ttl_s: float, unknown_max: int) -> None:
        self._inner = inner
        self._max_in_flight = max_in_flight
        self._in_flight = 0
        self._unknown = ExpiringIds(ttl_s=unknown_ttl_s, max_size=unknown_max)

    async def critical_events(self, space_id: str, limit: int) -> CriticalEvents | None:
        return await self._of_known("space", space_id, lambda: self._inner.critical_events(space_id, limit))

    async def device_latest(self, device_id: str) -> Readings | None:
        return await self._of_known("device", device_id, lambda: self._inner.device_latest(device_id))

    async def space_alarms(self, space_id: str, limit: int) -> Alarms | None:
        return await self._of_known("space", space_id, lambda: self._inner.space_alarms(space_id, limit))

    async def alarm(self, alarm_id: str) -> dict[str, Any] | None:
        return await self._of_known("alarm", alarm_id, lambda: self._inner.alarm(alarm_id))

    async def space_profile(self, space_id: str) -> dict[str, Any] | None:
        return await self._of_known("space", space_id, lambda: self._inner.space_profile(space_id))

    async def building_spaces(self, building_id: str) -> list[dict[str, Any]] | None:
        return await self._of_known("building", building_id, lambda: self._inner.building_spaces(building_id))

    async def acknowledge(self, alarm: dict[str, Any], principal: str, at: datetime) -> None:
        await self._bounded(lambda: self._inner.acknowledge(alarm, principal, at))

    async def release_version(self) -> str:
        return await self._bounded(self._inner.release_version)

    async def _of_known(self, kind: str, entity_id: str, read: Callable[[], Awaitable[T | None]]) -> T | None:
        key = f"{kind}:{entity_id}"
        if key in self._unknown:
            return None
        found = await self._bounded(read)
        if found is None:
            self._unknown.add(key)
        return found

    async def _bounded(self, read: Callable[[], Awaitable[T]]) -> T:
        if self._in_flight >= self._max_in_flight:
            raise StoreBusyError(f"{self._in_flight} reads are already waiting for Cassandra")
        self._in_flight += 1
        try:
            return await read()
        finally:
            self._in_flight -= 1
