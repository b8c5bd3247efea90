"""The serving tables in Cassandra, read with prepared statements: the source of truth behind the cache."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime
from typing import Any

from cassandra import DriverException, RequestExecutionException, RequestValidationException
from cassandra.cluster import NoHostAvailable, Session
from cassandra.connection import ConnectionException
from cassandra.query import PreparedStatement

from smartspaces.cassandra_tables import (
    ALARMS,
    ALARMS_BY_SPACE,
    CRITICAL_EVENTS,
    DEVICE_LATEST,
    DEVICES,
    SPACES,
    SPACES_BY_BUILDING,
)
from smartspaces.stages.cache.critical_events import newest_first
from smartspaces.stages.cache.encoding import iso_utc
from smartspaces.stages.serving.alarm_views import ALARM_FIELDS, alarm_view
from smartspaces.stages.serving.expiring_ids import ExpiringIds

# A request waits at most this long for Cassandra before it is answered 503.
READ_TIMEOUT_S = 2.0
CASSANDRA_ERRORS = (
    DriverException,
    RequestExecutionException,
    RequestValidationException,
    NoHostAvailable,
    ConnectionException,
)

_CRITICAL_COLUMNS = (
    "critical_event_id, space_id, device_id, rule_id, rule_version, severity, metric, value, unit, code, message, "
    "event_time, source_event_id"
)


class StoreUnavailableError(RuntimeError):
    """Cassandra did not answer (down, timed out, or refused the query)."""


class CassandraReader:
    """Newest critical events of a space and latest readings of a device; None for ids the registry lacks.

    Awaitable reads on the driver's own asynchronous requests: the driver's I/O thread completes them and
    hands the rows to the event loop, which never blocks on Cassandra. The data query and, for ids not
    confirmed recently, the registry lookup run concurrently, so a miss costs one round trip. Build it
    off the event loop (it prepares its statements, which waits for Cassandra).
    """

    def __init__(self, session: Session, keyspace: str, timeout_s: float = READ_TIMEOUT_S) -> None:
        self._session = session
        self._timeout_s = timeout_s
        self._critical = session.prepare(
            f"SELECT {_CRITICAL_COLUMNS} FROM {CRITICAL_EVENTS.qualified(keyspace)} WHERE space_id = ? LIMIT ?"
        )
        self._device_latest = session.prepare(
            f"SELECT metric, space_id, value, unit, event_time, event_id FROM {DEVICE_LATEST.qualified(keyspace)} "
            "WHERE device_id = ?"
        )
        self._space = session.prepare(f"SELECT space_id FROM {SPACES.qualified(keyspace)} WHERE space_id = ?")
        self._device = session.prepare(f"SELECT device_id FROM {DEVICES.qualified(keyspace)} WHERE device_id = ?")
        self._version = session.prepare("SELECT release_version FROM system.local")
        self._space_profile = session.prepare(
            f"SELECT space_id, building_id, floor, name, space_type FROM {SPACES.qualified(keyspace)} "
            "WHERE space_id = ?"
        )
        self._building_spaces = session.prepare(
            f"SELECT space_id, floor, name, space_type FROM {SPACES_BY_BUILDING.qualified(keyspace)} "
            "WHERE building_id = ?"
        )
        alarm_columns = ", ".join(ALARM_FIELDS)
        self._space_alarms = session.prepare(
            f"SELECT {alarm_columns} FROM {ALARMS_BY_SPACE.qualified(keyspace)} WHERE space_id = ? LIMIT ?"
        )
        self._alarm = session.prepare(f"SELECT {alarm_columns} FROM {ALARMS.qualified(keyspace)} WHERE alarm_id = ?")
        acknowledgement = "SET acknowledged_at = ?, acknowledged_by = ?"
        self._acknowledge = session.prepare(f"UPDATE {ALARMS.qualified(keyspace)} {acknowledgement} WHERE alarm_id = ?")
        self._acknowledge_in_space = session.prepare(
            f"UPDATE {ALARMS_BY_SPACE.qualified(keyspace)} {acknowledgement} "
            "WHERE space_id = ? AND raised_at = ? AND alarm_id = ?"
        )
        self._known_spaces = ExpiringIds()
        self._known_devices = ExpiringIds()

    async def critical_events(self, space_id: str, limit: int) -> list[dict[str, Any]] | None:
        """The space's newest `limit` critical events, newest first (ties by id); None for an unknown space."""
        rows = await self._rows_of_known(self._critical, (space_id, limit), self._space, self._known_spaces, space_id)
        if rows is None:
            return None
        return newest_first(
            [
                {
                    "critical_event_id": str(row.critical_event_id),
                    "space_id": row.space_id,
                    "device_id": row.device_id,
                    "rule_id": row.rule_id,
                    "rule_version": row.rule_version,
                    "severity": row.severity,
                    "metric": row.metric,
                    "value": row.value,
                    "unit": row.unit,
                    "code": row.code,
                    "message": row.message,
                    "event_time": iso_utc(row.event_time),
                    "source_event_id": None if row.source_event_id is None else str(row.source_event_id),
                }
                for row in rows
            ]
        )

    async def device_latest(self, device_id: str) -> dict[str, dict[str, Any]] | None:
        """metric -> the device's latest reading of it; None for an unknown device."""
        rows = await self._rows_of_known(
            self._device_latest, (device_id,), self._device, self._known_devices, device_id
        )
        if rows is None:
            return None
        return {
            row.metric: {
                "metric": row.metric,
                "value": row.value,
                "unit": row.unit,
                "event_time": iso_utc(row.event_time),
                "event_id": str(row.event_id),
                "device_id": device_id,
                "space_id": row.space_id,
            }
            for row in rows
        }

    async def space_profile(self, space_id: str) -> dict[str, Any] | None:
        """The space's name, building, floor and type; None for an unknown space."""
        rows = await self._start(self._space_profile, (space_id,))
        return rows[0]._asdict() if rows else None

    async def building_spaces(self, building_id: str) -> list[dict[str, Any]] | None:
        """The building's spaces (id, floor, name, type) by floor and id; None when it has none (unknown)."""
        rows = await self._start(self._building_spaces, (building_id,))
        spaces = sorted((row._asdict() for row in rows), key=lambda space: (space["floor"], space["space_id"]))
        return spaces or None

    async def space_alarms(self, space_id: str, limit: int) -> list[dict[str, Any]] | None:
        """The space's newest-raised `limit` alarms (alarm_view); None for an unknown space."""
        rows = await self._rows_of_known(
            self._space_alarms, (space_id, limit), self._space, self._known_spaces, space_id
        )
        return None if rows is None else [alarm_view(row._asdict()) for row in rows]

    async def alarm(self, alarm_id: str) -> dict[str, Any] | None:
        """The alarm (alarm_view), or None when no alarm has this id."""
        rows = await self._start(self._alarm, (uuid.UUID(alarm_id),))
        return alarm_view(rows[0]._asdict()) if rows and rows[0].raised_at is not None else None

    async def acknowledge(self, alarm: dict[str, Any], principal: str, at: datetime) -> None:
        """Records who acknowledged the alarm and when, by id and in its space's list (upserts: a retry is safe)."""
        alarm_id = uuid.UUID(alarm["alarm_id"])
        writes = [self._start(self._acknowledge, (at, principal, alarm_id))]
        if alarm["space_id"] is not None:
            raised_at = datetime.fromisoformat(alarm["raised_at"])
            writes.append(
                self._start(self._acknowledge_in_space, (at, principal, alarm["space_id"], raised_at, alarm_id))
            )
        await asyncio.gather(*writes)

    async def release_version(self) -> str:
        """Cassandra's version: the health check's proof that it answers."""
        rows = await self._start(self._version, ())
        return str(rows[0].release_version)

    async def _rows_of_known(
        self,
        query: PreparedStatement,
        parameters: tuple[object, ...],
        registry: PreparedStatement,
        known: ExpiringIds,
        entity_id: str,
    ) -> list[Any] | None:
        if entity_id in known:
            return await self._start(query, parameters)
        # gather retrieves both outcomes, so a failure of one never leaves the other's error unobserved.
        rows, registered = await asyncio.gather(self._start(query, parameters), self._start(registry, (entity_id,)))
        if not registered:
            return None
        known.add(entity_id)
        return rows

    def _start(self, query: PreparedStatement, parameters: tuple[object, ...]) -> asyncio.Future[list[Any]]:
        """Sends the query; the future gets its rows (one page: every query here is far below the fetch size; none
        for a write)."""
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[list[Any]] = loop.create_future()
        try:
            request = self._session.execute_async(query, parameters, timeout=self._timeout_s)
        except CASSANDRA_ERRORS as error:
            raise StoreUnavailableError(f"cassandra: {error}") from error
        # The callbacks run on the driver's I/O thread: they only schedule the outcome on the event loop.
        request.add_callbacks(
            lambda rows: loop.call_soon_threadsafe(_settle, answer, list(rows or ()), None),
            lambda error: loop.call_soon_threadsafe(_settle, answer, [], error),
        )
        return answer


def _settle(answer: asyncio.Future[list[Any]], rows: list[Any], error: BaseException | None) -> None:
    if answer.cancelled():
        return
    if error is None:
        answer.set_result(rows)
    elif isinstance(error, CASSANDRA_ERRORS):
        unavailable = StoreUnavailableError(f"cassandra: {error}")
        unavailable.__cause__ = error
        answer.set_exception(unavailable)
    else:
        answer.set_exception(error)
