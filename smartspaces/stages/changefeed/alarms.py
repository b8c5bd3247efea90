"""The change feed's alarms: each micro-batch's readings and the live watermark drive the alarm lifecycle.

The readings come from the micro-batch's one Spark job (transformations.feed_batch, ALARM_READING rows);
the lifecycle runs here, on the driver, over those few hundred rows with the state held in memory
(transformations.alarms.lifecycle). Changed alarms go to Cassandra, then Redis; the state is saved last, so
a crash before the checkpoint's commit re-applies the batch to the old state and writes the same alarms.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cassandra.cluster import Session
from cassandra.concurrent import execute_concurrent_with_args

from smartspaces.cassandra_tables import (
    ALARM_LIFECYCLE_COLUMNS,
    ALARM_STATE,
    ALARMS,
    ALARMS_BY_SPACE,
)
from smartspaces.instants import as_utc
from smartspaces.stages.cache.active_alarms import update_active_alarms
from smartspaces.stages.changefeed.cache_debt import GuardedCache, active_alarm_keys
from transformations.alarms.lifecycle import Alarm, AlarmEvaluator, Reading, SourceState, StateKey, alarm_to_json
from transformations.alarms.rules import AlarmRules

WRITE_CONCURRENCY = 32


def reading_from_payload(payload: Mapping[str, Any]) -> Reading:
    """An ALARM_READING row's payload (times as ISO strings) as the lifecycle's Reading."""
    return Reading(
        event_time=datetime.fromisoformat(payload["event_time"]),
        event_id=payload["event_id"],
        device_id=payload["device_id"],
        space_id=payload["space_id"],
        building_id=payload["building_id"],
        space_type=payload["space_type"],
        event_type=payload["event_type"],
        metric=payload["metric"],
        value=payload["value"],
        code=payload["code"],
    )


class LiveWatermark:
    """Event time as the live feed knows it, for timers that fire without a new message.

    The newest event time applied (never past the wall clock: a device with a fast clock must not silence the
    others), moving on with the wall clock while nothing newer arrives, less a grace for events on their way.
    A replay uses the events' times alone; the two agree for events that arrive within the grace.
    """

    def __init__(self, grace: timedelta, newest: datetime | None = None) -> None:
        self.grace = grace
        self.newest = newest
        self.seen_at = datetime.now(UTC)

    def saw(self, event_times: Iterable[datetime]) -> None:
        now = datetime.now(UTC)
        newest = max(event_times, default=None)
        if newest is not None and (self.newest is None or newest > self.newest):
            self.newest, self.seen_at = min(newest, now), now

    def current(self) -> datetime | None:
        if self.newest is None:
            return None
        return self.newest + (datetime.now(UTC) - self.seen_at) - self.grace


class AlarmStateStore:
    """(rule, source) -> its lifecycle state (JSON), for one consumer, loaded once and written when changed."""

    def __init__(self, session: Session, keyspace: str, consumer: str) -> None:
        self.session, self.consumer = session, consumer
        table = ALARM_STATE.qualified(keyspace)
        self._upsert = session.prepare(f"INSERT INTO {table} (consumer, rule_id, source_id, state) VALUES (?, ?, ?, ?)")
        self._select = f"SELECT rule_id, source_id, state FROM {table} WHERE consumer = %s"

    def load(self) -> dict[StateKey, SourceState]:
        rows = self.session.execute(self._select, (self.consumer,))
        return {(row.rule_id, row.source_id): SourceState.from_json(json.loads(row.state)) for row in rows}

    def save(self, states: Mapping[StateKey, SourceState]) -> None:
        rows = [(self.consumer, rule, source, json.dumps(state.to_json())) for (rule, source), state in states.items()]
        if rows:
            execute_concurrent_with_args(
                self.session, self._upsert, rows, concurrency=WRITE_CONCURRENCY, raise_on_first_error=True
            )


def _cql(column: str, value: Any) -> Any:
    if column == "alarm_id":
        return uuid.UUID(value)
    return value


class CassandraAlarmSink:
    """Alarms by id and by space. Idempotent: upserts by the alarm's deterministic id of its lifecycle columns
    only, so an acknowledgement the read API recorded is never overwritten."""

    def __init__(self, session: Session, keyspace: str) -> None:
        self.session = session
        by_id = ("alarm_id", *ALARM_LIFECYCLE_COLUMNS)
        by_space = (
            "space_id",
            "raised_at",
            "alarm_id",
            *(c for c in ALARM_LIFECYCLE_COLUMNS if c not in ("space_id", "raised_at")),
        )
        self._statements = (
            (by_id, session.prepare(_insert(ALARMS.qualified(keyspace), by_id)), False),
            (by_space, session.prepare(_insert(ALARMS_BY_SPACE.qualified(keyspace), by_space)), True),
        )

    def write(self, alarms: Iterable[Alarm]) -> None:
        alarms = list(alarms)
        for columns, statement, needs_space in self._statements:
            rows = [
                tuple(_cql(column, getattr(alarm, column)) for column in columns)
                for alarm in alarms
                if alarm.space_id is not None or not needs_space
            ]
            if rows:
                execute_concurrent_with_args(
                    self.session, statement, rows, concurrency=WRITE_CONCURRENCY, raise_on_first_error=True
                )


def _insert(table: str, columns: tuple[str, ...]) -> str:
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})"


@dataclass
class AlarmBatchReport:
    """Alarms written (raised, updated or escalated while open; cleared), and readings not applied: already
    applied (skipped) or older than a decision the watermark made (too_late)."""

    open: int = 0
    cleared: int = 0
    skipped: int = 0
    too_late: int = 0


class AlarmStage:
    """The alarm lifecycle of one change-feed consumer: readings in, alarms out to Cassandra and Redis."""

    def __init__(
        self,
        rules: AlarmRules,
        session: Session,
        keyspace: str,
        consumer: str,
        cache: GuardedCache,
        ttl_s: int,
        grace: timedelta,
    ) -> None:
        self.rules = rules
        self.state_store = AlarmStateStore(session, keyspace, consumer)
        states = self.state_store.load()
        self.evaluator = AlarmEvaluator(rules, states)
        applied = [as_utc(state.last_event_time) for state in states.values()]
        newest = max((time for time in applied if time is not None), default=None)
        self.watermark = LiveWatermark(grace, newest)
        self.cassandra = CassandraAlarmSink(session, keyspace)
        self.cache, self.ttl_s = cache, ttl_s
        # Every alarm this process wrote, as last written: what a run reports at its end.
        self.written: dict[str, Alarm] = {}

    def process(self, readings: list[Reading]) -> AlarmBatchReport:
        """Applies a micro-batch's readings (none: the watermark alone moves), writes what changed."""
        skipped_before, too_late_before = self.evaluator.skipped, self.evaluator.too_late
        self.evaluator.apply(readings)
        self.watermark.saw(reading.event_time for reading in readings)
        watermark = self.watermark.current()
        if watermark is not None:
            self.evaluator.advance_to(watermark)
        alarms, states = self.evaluator.take_changes()
        if alarms:
            self.written.update((alarm.alarm_id, alarm) for alarm in alarms)
            self.cassandra.write(alarms)
            cached = [alarm_to_json(alarm) for alarm in alarms]
            spaces = {alarm.space_id for alarm in alarms if alarm.space_id is not None}
            self.cache.write(
                active_alarm_keys(spaces), lambda: update_active_alarms(self.cache.redis, cached, self.ttl_s)
            )
        # After the sinks: a crash before this point re-applies the readings to the old state.
        self.state_store.save(states)
        cleared = sum(1 for alarm in alarms if alarm.cleared_at is not None)
        return AlarmBatchReport(
            len(alarms) - cleared,
            cleared,
            self.evaluator.skipped - skipped_before,
            self.evaluator.too_late - too_late_before,
        )


def alarm_line(alarm: Alarm) -> str:
    """`co2_high on b01-f0-s03 (warning): raised 2026-12-02 21:07:47, cleared 2026-12-02 21:32:47 UTC`."""

    def clock(at: datetime | None) -> str:
        return "-" if at is None else at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")

    escalated = f", escalated {clock(alarm.escalated_at)}" if alarm.escalated_at else ""
    ending = f", cleared {clock(alarm.cleared_at)}" if alarm.cleared_at else ", open"
    raised = f"raised {clock(alarm.raised_at)}"
    return f"{alarm.rule_id} on {alarm.source_id} ({alarm.severity}): {raised}{escalated}{ending} UTC"
