"""Cache-aside reads: Redis first; on a miss Cassandra, which then fills Redis; Cassandra alone when Redis fails."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, Protocol, TypeVar

import orjson
from redis import Redis, RedisError, ResponseError
from redis.asyncio import Redis as AsyncRedis

from smartspaces.config import CacheSettings
from smartspaces.stages.cache.active_alarms import (
    active_alarms_key,
    forget_active_alarms,
    queue_fill_active_alarms,
    read_active_alarms,
)
from smartspaces.stages.cache.critical_events import (
    add_critical_events,
    critical_keys,
    mark_critical_complete,
    read_served_critical_events,
)
from smartspaces.stages.cache.latest_readings import mark_latest_complete, read_served_latest, update_latest
from smartspaces.stages.serving.alarm_views import alarm_view
from smartspaces.stages.serving.breaker import CircuitBreaker
from smartspaces.stages.serving.single_flight import SingleFlight
from transformations.alarms.lifecycle import AlarmState
from transformations.alarms.rules import ALARM_SEVERITIES
from transformations.redis_keys import DEVICE_LATEST

T = TypeVar("T")
Source = Literal["cache", "cassandra"]
CriticalEvents = list[dict[str, Any]]
Readings = dict[str, dict[str, Any]]
Alarms = list[dict[str, Any]]

log = logging.getLogger("smartspaces.stages.serving")


class ServingStore(Protocol):
    """What the reads need from the source of truth (CassandraReader); None means the id is unknown."""

    async def critical_events(self, space_id: str, limit: int) -> CriticalEvents | None: ...

    async def device_latest(self, device_id: str) -> Readings | None: ...

    async def release_version(self) -> str: ...

    async def space_alarms(self, space_id: str, limit: int) -> Alarms | None: ...

    async def alarm(self, alarm_id: str) -> dict[str, Any] | None: ...

    async def space_profile(self, space_id: str) -> dict[str, Any] | None: ...

    async def building_spaces(self, building_id: str) -> list[dict[str, Any]] | None: ...

    async def acknowledge(self, alarm: dict[str, Any], principal: str, at: datetime) -> None: ...


class UnknownIdError(LookupError):
    """The registry does not know this space or device (the API answers 404)."""


@dataclass(frozen=True)
class Served:
    """A value as JSON, ready to be served, and where it came from: the cache, or Cassandra."""

    json: bytes
    source: Source


class CacheAsideReads:
    """The API's reads, on its event loop. Never raises because of Redis: a Redis error is logged, Cassandra serves.

    A hit goes out as Redis returned it (critical events) or encoded once (latest readings). After a Redis
    error the breaker skips Redis for api.redis_retry_after_s, so requests do not each wait for a socket
    timeout. Concurrent misses of one key share one Cassandra read and fill (single-flight, per process: N
    replicas do at most N). Fills use the same functions as the streaming loader, on `fill_redis` (a
    blocking client) in a worker thread: the miss path's extra hop, which keeps the loader's functions the
    one writer of the cache layout.
    """

    def __init__(
        self,
        redis: AsyncRedis,
        fill_redis: Redis,
        store: ServingStore,
        cache: CacheSettings,
        breaker: CircuitBreaker,
    ) -> None:
        self._redis = redis
        self._fill_redis = fill_redis
        self._store = store
        self._cache = cache
        self._breaker = breaker
        self._critical_flights: SingleFlight[CriticalEvents] = SingleFlight()
        self._latest_flights: SingleFlight[Readings] = SingleFlight()
        self._alarm_flights: SingleFlight[Alarms] = SingleFlight()

    async def critical_events(self, space_id: str, limit: int) -> Served:
        """The space's newest `limit` (1..K) critical events, newest first; UnknownIdError for an unknown space."""
        keep = self._cache.critical_per_space

        async def read() -> bytes | None:
            return checked_critical_events(await read_served_critical_events(self._redis, space_id, keep, limit))

        cached = await self._from_redis(read, critical_keys(space_id))
        if cached is not None:
            return Served(cached, "cache")
        events = await self._critical_flights.run(space_id, lambda: self._load_critical_events(space_id))
        return Served(orjson.dumps(events[:limit]), "cassandra")

    async def device_latest(self, device_id: str) -> Served:
        """metric -> the device's latest reading; UnknownIdError for an unknown device."""
        key = DEVICE_LATEST.format(device_id=device_id)
        cached = await self._from_redis(lambda: read_served_latest(self._redis, key), (key,))
        if cached is not None:
            return Served(cached, "cache")
        readings = await self._latest_flights.run(device_id, lambda: self._load_device_latest(device_id))
        return Served(orjson.dumps(readings, option=orjson.OPT_SORT_KEYS), "cassandra")

    async def active_alarms(self, space_id: str, history_limit: int) -> Served:
        """The space's open alarms (active or acknowledged), newest raised first; UnknownIdError for an unknown
        space. A miss reads the space's newest `history_limit` alarms from Cassandra and fills the cache."""
        alarms, source = await self._open_alarms(space_id, history_limit)
        return Served(orjson.dumps(alarms), source)

    async def building_overview(self, building_id: str, history_limit: int) -> Served:
        """The building's spaces, each with its open alarms counted by severity; UnknownIdError when it has none.

        Each space's open alarms come cache-aside, all spaces at once; the answer's source is the cache only
        when every space's was."""
        spaces = await self._store.building_spaces(building_id)
        if spaces is None:
            raise UnknownIdError(f"unknown building {building_id!r}")
        answers = await asyncio.gather(*(self._open_alarms(space["space_id"], history_limit) for space in spaces))
        overview = []
        for space, (alarms, _) in zip(spaces, answers, strict=True):
            by_severity = {severity.value: 0 for severity in ALARM_SEVERITIES}
            for alarm in alarms:
                by_severity[alarm["severity"]] = by_severity.get(alarm["severity"], 0) + 1
            overview.append({**space, "open_alarms": len(alarms), "open_by_severity": by_severity})
        source: Source = "cache" if all(source == "cache" for _, source in answers) else "cassandra"
        return Served(orjson.dumps(overview), source)

    async def space_profile(self, space_id: str) -> Served:
        profile = await self._store.space_profile(space_id)
        if profile is None:
            raise UnknownIdError(f"unknown space {space_id!r}")
        return Served(orjson.dumps(profile), "cassandra")

    async def _open_alarms(self, space_id: str, history_limit: int) -> tuple[Alarms, Source]:

        async def read() -> Alarms | None:
            cached = await read_active_alarms(self._redis, space_id)
            return None if cached is None else [alarm_view(alarm) for alarm in cached]

        cached = await self._from_redis(read, (active_alarms_key(space_id),))
        if cached is not None:
            return cached, "cache"
        alarms = await self._alarm_flights.run(space_id, lambda: self._load_active_alarms(space_id, history_limit))
        return alarms, "cassandra"

    async def space_alarms(self, space_id: str, limit: int) -> Served:
        """The space's newest-raised `limit` alarms in every state (history: Cassandra, not cached)."""
        alarms = await self._store.space_alarms(space_id, limit)
        if alarms is None:
            raise UnknownIdError(f"unknown space {space_id!r}")
        return Served(orjson.dumps(alarms), "cassandra")

    async def alarm(self, alarm_id: str) -> Served:
        found = await self._store.alarm(alarm_id)
        if found is None:
            raise UnknownIdError(f"unknown alarm {alarm_id!r}")
        return Served(orjson.dumps(found), "cassandra")

    async def acknowledge(self, alarm_id: str, principal: str) -> Served:
        """Records the operator's acknowledgement (the first one stands: a repeat changes nothing) and drops the
        space's cached active alarms, so the next read shows it."""
        found = await self._store.alarm(alarm_id)
        if found is None:
            raise UnknownIdError(f"unknown alarm {alarm_id!r}")
        if found["acknowledged_at"] is None:
            now = datetime.now(UTC)
            # Cassandra keeps milliseconds: answer the time as it is stored.
            at = now.replace(microsecond=now.microsecond // 1000 * 1000)
            await self._store.acknowledge(found, principal, at)
            found = alarm_view({**found, "acknowledged_at": at, "acknowledged_by": principal})
            if found["space_id"] is not None:
                space_id = found["space_id"]
                await self._from_redis(lambda: forget_active_alarms(self._redis, space_id), ())
        return Served(orjson.dumps(found), "cassandra")

    async def _load_active_alarms(self, space_id: str, history_limit: int) -> Alarms:
        alarms = await self._store.space_alarms(space_id, history_limit)
        if alarms is None:
            raise UnknownIdError(f"unknown space {space_id!r}")
        open_alarms = [alarm for alarm in alarms if alarm["state"] != AlarmState.CLEARED.value]
        ttl_s = self._cache.critical_ttl_s
        await self._fill(
            ("alarms", space_id), lambda pipe: queue_fill_active_alarms(pipe, space_id, open_alarms, ttl_s)
        )
        return open_alarms

    async def redis_status(self) -> str:
        """'ok', or 'degraded' when Redis fails or is being skipped (then the API serves from Cassandra; the log
        says why)."""
        if not self._breaker.allow():
            return "degraded"
        try:
            await self._redis.ping()
        except RedisError as error:
            self._redis_failed("ping", error)
            return "degraded"
        self._breaker.succeeded()
        return "ok"

    async def cassandra_version(self) -> str:
        return await self._store.release_version()

    async def _load_critical_events(self, space_id: str) -> CriticalEvents:
        events = await self._store.critical_events(space_id, self._cache.critical_per_space)
        if events is None:
            raise UnknownIdError(f"unknown space {space_id!r}")
        ttl_s = self._cache.critical_ttl_s

        def fill(pipe: Redis) -> None:
            add_critical_events(pipe, space_id, events, keep=self._cache.critical_per_space, ttl_s=ttl_s)
            mark_critical_complete(pipe, space_id, ttl_s)

        await self._fill(("critical", space_id), fill)
        return events

    async def _load_device_latest(self, device_id: str) -> Readings:
        readings = await self._store.device_latest(device_id)
        if readings is None:
            raise UnknownIdError(f"unknown device {device_id!r}")
        key, ttl_s = DEVICE_LATEST.format(device_id=device_id), self._cache.latest_ttl_s

        def fill(pipe: Redis) -> None:
            for reading in readings.values():
                update_latest(pipe, key, reading, ttl_s)
            mark_latest_complete(pipe, key, ttl_s)

        await self._fill(("latest", device_id), fill)
        return readings

    async def _from_redis(self, read: Callable[[], Awaitable[T | None]], keys: Sequence[str]) -> T | None:
        """read()'s value, or None (a miss) when Redis fails or is being skipped, or when the value at `keys` is
        corrupt: then those keys are dropped, so the miss's fill from Cassandra writes them again."""
        if not self._breaker.allow():
            return None
        try:
            value = await read()
        except (ValueError, KeyError, TypeError, ResponseError) as error:
            if isinstance(error, ResponseError) and "WRONGTYPE" not in str(error):
                self._redis_failed("read", error)
                return None
            log.warning(
                "corrupt cache value at %s (%s: %s); serving from Cassandra and rewriting it",
                ", ".join(keys),
                type(error).__name__,
                error,
            )
            await self._from_redis(lambda: self._redis.delete(*keys), keys)
            return None
        except RedisError as error:
            self._redis_failed("read", error)
            return None
        self._breaker.succeeded()
        return value

    async def _fill(self, what: Hashable, queue: Callable[[Redis], None]) -> None:
        """Runs the queued writes in one pipeline round trip; a failure only costs the next read a miss."""
        if not self._breaker.allow():
            return
        try:
            await asyncio.to_thread(self._run_pipeline, queue)
        except RedisError as error:
            self._redis_failed(f"fill {what}", error)
            return
        self._breaker.succeeded()

    def _run_pipeline(self, queue: Callable[[Redis], None]) -> None:
        pipe = self._fill_redis.pipeline(transaction=False)
        queue(pipe)
        pipe.execute()

    def _redis_failed(self, operation: str, error: RedisError) -> None:
        if self._breaker.failed():
            log.warning(
                "redis %s failed (%s: %s); serving from Cassandra and skipping Redis for %.1f s",
                operation,
                type(error).__name__,
                error,
                self._breaker.seconds_until_retry(),
            )
        else:
            log.warning("redis %s failed again (%s: %s)", operation, type(error).__name__, error)


def checked_critical_events(served: bytes | None) -> bytes | None:
    """The served array as it is, once it is known to be a JSON array of critical events (ValueError if not)."""
    if served is None:
        return None
    events = orjson.loads(served)
    if not isinstance(events, list) or not all(
        isinstance(event, dict) and "critical_event_id" in event for event in events
    ):
        raise ValueError("the cached critical events are not an array of critical events")
    return served
