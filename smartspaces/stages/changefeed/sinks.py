"""Where a micro-batch's outputs go, written from the driver: Cassandra with the Python driver, then Redis.

A micro-batch's outputs are small (bounded by the campus, see transformations.feed_batch), so they are
written from the process that already holds them: no Spark job, no connection set-up per partition.
Idempotent: Cassandra rows are upserts by key (latest readings carry their event time as write time, so an
older reading never replaces a newer one), and the Redis writes are the cache's own idempotent updates.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from cassandra.cluster import Session
from cassandra.concurrent import execute_concurrent_with_args
from cassandra.query import UNSET_VALUE, PreparedStatement
from redis import Redis

from smartspaces.cassandra_tables import CRITICAL_EVENTS, CassandraTable
from smartspaces.config import CacheSettings
from smartspaces.stages.cache.critical_events import write_critical_events
from smartspaces.stages.cache.latest_readings import LATEST_TABLES, write_latest_readings
from smartspaces.stages.changefeed.outputs import FeedBatchOutputs
from transformations.critical_rules import CRITICAL_EVENT_COLUMNS

_LATEST_COLUMNS = ("device_id", "space_id", "metric", "value", "unit", "event_time", "event_id")
_UUID_COLUMNS = frozenset({"critical_event_id", "source_event_id", "event_id"})
_TIME_COLUMNS = frozenset({"event_time", "detected_at"})
WRITE_CONCURRENCY = 32
_MICROSECOND = 1_000_000


def _cql_value(column: str, value: Any) -> Any:
    if value is None:
        return None
    if column in _UUID_COLUMNS:
        return uuid.UUID(value)
    if column in _TIME_COLUMNS:
        return datetime.fromisoformat(value)
    return value


def _unset_if_none(value: Any) -> Any:
    return UNSET_VALUE if value is None else value


def _insert(
    session: Session, keyspace: str, table: CassandraTable, columns: Sequence[str], timestamp: bool
) -> PreparedStatement:
    using = " USING TIMESTAMP ?" if timestamp else ""
    markers = ", ".join("?" for _ in columns)
    return session.prepare(f"INSERT INTO {table.qualified(keyspace)} ({', '.join(columns)}) VALUES ({markers}){using}")


class CassandraFeedSink:
    """Critical events and latest readings into their Cassandra tables."""

    def __init__(self, session: Session, keyspace: str) -> None:
        self.session = session
        self.critical = _insert(session, keyspace, CRITICAL_EVENTS, CRITICAL_EVENT_COLUMNS, timestamp=False)
        self.latest = {
            scope: _insert(session, keyspace, table, _LATEST_COLUMNS, timestamp=True)
            for scope, (table, _) in LATEST_TABLES.items()
        }

    def write(self, outputs: FeedBatchOutputs) -> None:
        # A critical event is written once with one content: its empty columns (a forced door's metric and
        # value) are left unset rather than written as tombstones that every read of its space's events skips.
        self._execute(
            self.critical,
            [
                tuple(_unset_if_none(_cql_value(c, event[c])) for c in CRITICAL_EVENT_COLUMNS)
                for event in outputs.critical_events
            ],
        )
        for scope, readings in (("device_id", outputs.device_latest), ("space_id", outputs.space_latest)):
            self._execute(self.latest[scope], [self._latest_row(reading) for reading in readings])

    @staticmethod
    def _latest_row(reading: Mapping[str, Any]) -> tuple[Any, ...]:
        values = tuple(_cql_value(c, reading[c]) for c in _LATEST_COLUMNS)
        event_time: datetime = values[_LATEST_COLUMNS.index("event_time")]
        # The reading's event time (µs) as the write time: of two readings of one key, the newer wins.
        write_time = int(event_time.timestamp()) * _MICROSECOND + event_time.microsecond
        return (*values, write_time)

    def _execute(self, statement: PreparedStatement, rows: list[tuple[Any, ...]]) -> None:
        if rows:
            execute_concurrent_with_args(
                self.session, statement, rows, concurrency=WRITE_CONCURRENCY, raise_on_first_error=True
            )


class RedisFeedSink:
    """Critical events into their spaces' newest-K lists, latest readings into their hashes: multi-key script
    calls, pipelined (the cache's shared writers)."""

    def __init__(self, client: Redis, cache: CacheSettings) -> None:
        self.client = client
        self.cache = cache

    def write(self, outputs: FeedBatchOutputs) -> None:
        cache = self.cache
        write_critical_events(self.client, outputs.critical_events, cache.critical_per_space, cache.critical_ttl_s)
        for scope, readings in (("device_id", outputs.device_latest), ("space_id", outputs.space_latest)):
            write_latest_readings(self.client, LATEST_TABLES[scope][1], scope, readings, cache.latest_ttl_s)
