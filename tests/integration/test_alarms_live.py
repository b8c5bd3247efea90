"""Alarm scenarios through the real pipeline: Kafka → ingest → change log → change feed → Cassandra and Redis."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from confluent_kafka import Producer

from jobs import changefeed, ingest, reference
from smartspaces.cassandra_tables import ALARMS, ALARMS_BY_SPACE
from smartspaces.config import Settings
from smartspaces.connectors.cassandra import cassandra_cluster
from smartspaces.connectors.kafka_admin import client_config
from smartspaces.connectors.redis import redis_client
from smartspaces.stages.cache.active_alarms import active_alarms_key
from smartspaces.stages.simulator.campus import build_campus, write_reference
from smartspaces.stages.simulator.events import Event
from smartspaces.stages.simulator.scenarios import SCENARIOS, ScenarioRun

Expected = tuple[str, str, str, datetime | None, datetime | None, datetime | None, float | None]


def send(settings: Settings, events: list[Event]) -> None:
    producer = Producer(client_config(settings.kafka))
    for event in events:
        producer.produce(settings.ingest.topic, key=event["device_id"], value=json.dumps(event))
    assert producer.flush(30) == 0


def expected(runs: list[ScenarioRun]) -> list[Expected]:
    def naive(at: datetime | None) -> datetime | None:
        return None if at is None else at.astimezone(UTC).replace(tzinfo=None)

    return sorted(
        (
            alarm.rule_id,
            alarm.source_id,
            alarm.severity,
            naive(run.at(alarm.raised_at_min)),
            naive(run.at(alarm.escalated_at_min)),
            naive(run.at(alarm.cleared_at_min)),
            alarm.peak_value,
        )
        for run in runs
        for alarm in run.expected
    )


def stored_alarms(settings: Settings, table: str = "alarms") -> list[Expected]:
    cluster = cassandra_cluster(settings.cassandra)
    try:
        rows = cluster.connect(settings.cassandra.keyspace).execute(
            f"SELECT rule_id, source_id, severity, raised_at, escalated_at, cleared_at, peak_value FROM {table}"
        )
        return sorted(tuple(row) for row in rows)
    finally:
        cluster.shutdown()


def active_in_redis(settings: Settings, space_id: str) -> list[tuple[str, str]]:
    stored = redis_client(settings.redis).hgetall(active_alarms_key(space_id))
    return sorted((json.loads(value)["rule_id"], json.loads(value)["raised_at"]) for value in stored.values())


def every_alarm_column(settings: Settings) -> list[tuple[object, ...]]:
    cluster = cassandra_cluster(settings.cassandra)
    try:
        session = cluster.connect(settings.cassandra.keyspace)
        return sorted(tuple(row) for row in session.execute(f"SELECT {', '.join(ALARMS.column_names)} FROM alarms"))
    finally:
        cluster.shutdown()


def truncate_alarms(settings: Settings) -> None:
    cluster = cassandra_cluster(settings.cassandra)
    try:
        session = cluster.connect(settings.cassandra.keyspace)
        for table in (ALARMS, ALARMS_BY_SPACE):
            session.execute(f"TRUNCATE {table.name}", timeout=60)
    finally:
        cluster.shutdown()


def test_scenarios_raise_escalate_and_clear_exactly_their_alarms_live_and_on_replay(
    feed_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = datetime.now(UTC)
    campus = build_campus(2, seed=1, now=now - timedelta(days=1))
    write_reference(campus, tmp_path / "reference")
    assert reference.main(["--drop", str(tmp_path / "reference")]) == 0
    runs = [scenario.place(campus, now - timedelta(minutes=1)) for scenario in SCENARIOS.values()]
    late = next(run for run in runs if len(run.batches) > 1)
    late_space = late.expected[0].source_id

    # The late sensor's first readings arrive and are processed first; its buffered ones come with everything
    # else, within the watermark's grace.
    send(feed_settings, list(late.batches[0]))
    assert ingest.main(["--drain"]) == 0
    assert changefeed.main(["--once"]) == 0
    raised = late.at(late.expected[0].raised_at_min)
    assert raised is not None
    assert active_in_redis(feed_settings, late_space) == [("co2_high", raised.isoformat())]
    assert stored_alarms(feed_settings) == [(a[0], a[1], a[2], a[3], None, None, a[6]) for a in expected([late])]

    send(feed_settings, [*late.batches[1], *(event for run in runs if run is not late for event in run.events())])
    assert ingest.main(["--drain"]) == 0
    assert changefeed.main(["--once"]) == 0
    # Cleared retroactively, at the event time the late readings show, and gone from the active alarms.
    assert stored_alarms(feed_settings) == expected(runs)
    assert active_in_redis(feed_settings, late_space) == []
    assert stored_alarms(feed_settings, "alarms_by_space") == expected(runs)

    # The replay: a new consumer runs the change feed over the whole change log, into emptied alarm tables,
    # and writes every alarm again, to the last column.
    live = every_alarm_column(feed_settings)
    truncate_alarms(feed_settings)
    monkeypatch.setenv("SMARTSPACES__CHANGEFEED__CONSUMER", "alarm-replay")
    assert changefeed.main(["--once"]) == 0
    assert every_alarm_column(feed_settings) == live
    assert stored_alarms(feed_settings, "alarms_by_space") == expected(runs)
