"""The cache-aside reads against the real Redis and Cassandra: fills, single-flight under a stampede, unknown ids."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import pytest
from cassandra.cluster import Session
from redis import Redis

from smartspaces.config import Settings
from smartspaces.connectors.cassandra import cassandra_cluster
from smartspaces.connectors.redis import redis_client
from smartspaces.stages.cache.critical_events import read_critical_events
from smartspaces.stages.cache.latest_readings import read_latest
from smartspaces.stages.serving.breaker import CircuitBreaker
from smartspaces.stages.serving.cache_client import async_redis_client
from smartspaces.stages.serving.cassandra_reader import CassandraReader
from smartspaces.stages.serving.reads import CacheAsideReads, CriticalEvents, Readings, Served, UnknownIdError
from tests.integration.serving_fixtures import (
    at,
    critical_event,
    insert_critical_events,
    insert_device,
    insert_device_latest,
    insert_space,
    reading,
    unique,
)

pytestmark = pytest.mark.anyio

CALLERS = 16
# How long each counted read is held open, so every caller's Redis miss happens while the first read runs.
READ_HOLD_S = 1.0


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class CountingStore:
    """The real CassandraReader, counting its reads and holding each one open for READ_HOLD_S."""

    def __init__(self, inner: CassandraReader) -> None:
        self.inner = inner
        self.reads: Counter[str] = Counter()

    async def _count(self, what: str) -> None:
        self.reads[what] += 1
        await asyncio.sleep(READ_HOLD_S)

    async def critical_events(self, space_id: str, limit: int) -> CriticalEvents | None:
        await self._count(f"critical_events {space_id}")
        return await self.inner.critical_events(space_id, limit)

    async def device_latest(self, device_id: str) -> Readings | None:
        await self._count(f"device_latest {device_id}")
        return await self.inner.device_latest(device_id)

    async def release_version(self) -> str:
        return await self.inner.release_version()

    async def space_alarms(self, space_id: str, limit: int) -> list[dict[str, Any]] | None:
        await self._count(f"space_alarms {space_id}")
        return await self.inner.space_alarms(space_id, limit)

    async def alarm(self, alarm_id: str) -> dict[str, Any] | None:
        return await self.inner.alarm(alarm_id)

    async def acknowledge(self, alarm: dict[str, Any], principal: str, at: datetime) -> None:
        await self.inner.acknowledge(alarm, principal, at)

    async def space_profile(self, space_id: str) -> dict[str, Any] | None:
        return await self.inner.space_profile(space_id)

    async def building_spaces(self, building_id: str) -> list[dict[str, Any]] | None:
        return await self.inner.building_spaces(building_id)


@dataclass
class Harness:
    service: CacheAsideReads
    store: CountingStore
    redis: Redis


@pytest.fixture
async def harness(serving_settings: Settings) -> AsyncIterator[Harness]:
    """The reads on the real servers, their Cassandra reads counted; `redis` is a blocking client for checks."""
    cluster = cassandra_cluster(serving_settings.cassandra)
    redis = async_redis_client(serving_settings.redis)
    fill_redis = redis_client(serving_settings.redis)
    store = CountingStore(CassandraReader(cluster.connect(), serving_settings.cassandra.keyspace))
    breaker = CircuitBreaker(serving_settings.api.redis_retry_after_s)
    yield Harness(CacheAsideReads(redis, fill_redis, store, serving_settings.cache, breaker), store, fill_redis)
    await redis.aclose()
    fill_redis.close()
    cluster.shutdown()


async def stampede(call: Callable[[], Awaitable[Served]]) -> list[Served]:
    """CALLERS concurrent calls, started together on the event loop."""
    return list(await asyncio.gather(*(call() for _ in range(CALLERS))))


def decoded(served: Served) -> tuple[str, Any]:
    """(source, the served JSON decoded)."""
    return served.source, orjson.loads(served.json)


async def test_concurrent_misses_of_a_space_do_one_cassandra_read(harness: Harness, session: Session) -> None:
    service, store = harness.service, harness.store
    space = unique("space")
    insert_space(session, space)
    events = [critical_event(space, number, at(number)) for number in range(3)]
    insert_critical_events(session, events)
    newest_first = [events[2], events[1], events[0]]

    served = await stampede(lambda: service.critical_events(space, 50))

    assert store.reads == Counter({f"critical_events {space}": 1})
    assert [decoded(s) for s in served] == [("cassandra", newest_first)] * CALLERS
    assert decoded(await service.critical_events(space, 2)) == ("cache", newest_first[:2])
    assert store.reads == Counter({f"critical_events {space}": 1})
    assert read_critical_events(harness.redis, space, 50) == newest_first


async def test_concurrent_misses_of_a_device_do_one_cassandra_read(harness: Harness, session: Session) -> None:
    service, store = harness.service, harness.store
    space, device = unique("space"), unique("dev")
    insert_space(session, space)
    insert_device(session, device, space)
    readings = [reading(device, space, "temperature", 21.5, at(3), 1), reading(device, space, "co2", 612.0, at(4), 2)]
    insert_device_latest(session, readings)
    expected = {"co2": readings[1], "temperature": readings[0]}

    served = await stampede(lambda: service.device_latest(device))

    assert store.reads == Counter({f"device_latest {device}": 1})
    assert [decoded(s) for s in served] == [("cassandra", expected)] * CALLERS
    assert decoded(await service.device_latest(device)) == ("cache", expected)
    assert read_latest(harness.redis, f"smartspaces:v1:device:{device}:latest") == expected


async def test_an_unknown_space_is_not_cached(harness: Harness) -> None:
    service = harness.service
    space = unique("space")
    for _ in range(2):
        with pytest.raises(UnknownIdError):
            await service.critical_events(space, 50)
    assert harness.redis.keys(f"*{space}*") == []


async def test_a_known_space_without_events_is_cached_empty(harness: Harness, session: Session) -> None:
    service, store = harness.service, harness.store
    space = unique("space")
    insert_space(session, space)
    assert decoded(await service.critical_events(space, 50)) == ("cassandra", [])
    assert decoded(await service.critical_events(space, 50)) == ("cache", [])
    assert store.reads == Counter({f"critical_events {space}": 1})
