"""The catch-up's window from the real stores: written runs in PostgreSQL, received hours in Cassandra."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest

from smartspaces.bootstrap.cassandra import apply_cassandra
from smartspaces.config import PostgresSettings, Settings
from smartspaces.connectors.cassandra import cassandra_cluster
from smartspaces.connectors.postgres import connect
from smartspaces.received_hours import ReceivedHours
from smartspaces.stages.enrichment.catch_up import candidate_days, catch_up_window
from tests.integration.ingest_fixtures import drop_keyspace
from tests.integration.reporting_fixtures import reporting_pg  # noqa: F401  (a fixture)
from transformations.report_window import ReportWindow

NOW = datetime.now(UTC)


@pytest.fixture
def catch_up_settings(running_stack: Settings, reporting_pg: PostgresSettings) -> Iterator[Settings]:  # noqa: F811
    """The module's PostgreSQL database, with no runs, and a keyspace of the test's own."""
    with connect(reporting_pg) as connection:
        connection.execute("DELETE FROM reporting.enrichment_runs")
        connection.commit()
    keyspace = f"test_catch_up_{uuid.uuid4().hex[:8]}"
    cassandra = running_stack.cassandra.model_copy(update={"keyspace": keyspace})
    apply_cassandra(cassandra)
    settings = running_stack.model_copy(update={"postgres": reporting_pg, "cassandra": cassandra})
    yield settings
    drop_keyspace(settings)


def record_run(settings: Settings, first: date, last: date, started: datetime, verdict: str = "passed") -> None:
    window = ReportWindow.of_days(first, last, settings.enrichment.time_zone)
    with connect(settings.postgres) as connection:
        connection.execute(
            "INSERT INTO reporting.enrichment_runs (run_id, window_start, window_end, time_zone, started_at, "
            "finished_at, verdict) VALUES (%s, %s, %s, %s, %s, %s, %s)",
            (uuid.uuid4(), window.start, window.end, window.time_zone, started, started, verdict),
        )
        connection.commit()


def record_received(settings: Settings, hour: datetime, at: datetime) -> None:
    cluster = cassandra_cluster(settings.cassandra)
    try:
        ReceivedHours(cluster.connect(), settings.cassandra.keyspace).record([hour], at)
    finally:
        cluster.shutdown()


def test_the_window_spans_the_missed_night_and_the_day_of_late_events(catch_up_settings: Settings) -> None:
    settings, zone = catch_up_settings, catch_up_settings.enrichment.time_zone
    days = candidate_days(NOW, zone, timedelta(seconds=settings.ingest.max_lateness_s))
    assert catch_up_window(settings, NOW) == ReportWindow.of_days(days[0], days[-1], zone)  # nothing written yet

    run_started = NOW - timedelta(hours=1)
    missed, late = days[-2], days[2]
    for day in days:
        if day != missed:
            record_run(settings, day, day, run_started)
    record_run(settings, missed, missed, run_started, verdict="failed")
    assert catch_up_window(settings, NOW) == ReportWindow.of_days(missed, missed, zone)

    late_hour = ReportWindow.of_days(late, late, zone).start + timedelta(hours=5)
    record_received(settings, late_hour, run_started + timedelta(minutes=10))
    assert catch_up_window(settings, NOW) == ReportWindow.of_days(late, missed, zone)

    record_run(settings, late, missed, NOW)
    assert catch_up_window(settings, NOW) is None
