"""The enrichment's catch-up: every recent local day not written since it last received events.

A day is due when no written run (passed or warned) covers it whole, as after a missed or failed night, or
when events of it were stored after the start of the latest written run that covers it: late events (up to
ingest.max_lateness_s) or a replayed period. The run then enriches one window, from the first due day to the
last: the days in between are recomputed too, which changes nothing in them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from smartspaces.config import Settings
from smartspaces.connectors.cassandra import cassandra_cluster
from smartspaces.connectors.postgres import connect
from smartspaces.received_hours import ReceivedHours
from transformations.report_window import ReportWindow


@dataclass(frozen=True)
class WrittenRun:
    """A run that wrote its window (verdict passed or warned), and when it started."""

    window_start: datetime
    window_end: datetime
    started_at: datetime


def candidate_days(now: datetime, time_zone: str, max_lateness: timedelta) -> list[date]:
    """The local days that can still receive events, oldest first, up to yesterday (today is not over)."""
    today = now.astimezone(ZoneInfo(time_zone)).date()
    days_back = -(-max_lateness // timedelta(days=1)) + 1  # whole days, rounded up, and the day it started
    return [today - timedelta(days=back) for back in range(days_back, 0, -1)]


def due_days(
    days: Sequence[date], time_zone: str, runs: Sequence[WrittenRun], received: Mapping[datetime, datetime]
) -> list[date]:
    """The days (of `days`) to enrich: none of `runs` covers them, or `received` has an hour of them newer than
    the latest covering run's start. received: UTC hour → when events of it were last stored."""
    due = []
    for day in days:
        window = ReportWindow.of_days(day, day, time_zone)
        covering = [run.started_at for run in runs if run.window_start <= window.start and run.window_end >= window.end]
        if not covering:
            due.append(day)
            continue
        written = max(covering)
        if any(window.start <= hour < window.end and at > written for hour, at in received.items()):
            due.append(day)
    return due


def written_runs(settings: Settings, since: datetime) -> list[WrittenRun]:
    """The runs that wrote a window ending after `since`."""
    with connect(settings.postgres) as connection:
        rows = connection.execute(
            "SELECT window_start, window_end, started_at FROM reporting.enrichment_runs "
            "WHERE verdict IN ('passed', 'warned') AND window_end > %s",
            (since,),
        ).fetchall()
    return [WrittenRun(*row) for row in rows]


def received_between(settings: Settings, start: datetime, end: datetime) -> dict[datetime, datetime]:
    cluster = cassandra_cluster(settings.cassandra)
    try:
        return ReceivedHours(cluster.connect(), settings.cassandra.keyspace).between(start, end)
    finally:
        cluster.shutdown()


def catch_up_window(settings: Settings, now: datetime) -> ReportWindow | None:
    """The window of the due days (first to last), None when every day is written and up to date."""
    time_zone = settings.enrichment.time_zone
    days = candidate_days(now, time_zone, timedelta(seconds=settings.ingest.max_lateness_s))
    span = ReportWindow.of_days(days[0], days[-1], time_zone)
    due = due_days(
        days,
        time_zone,
        written_runs(settings, span.start),
        received_between(settings, span.start, span.end),
    )
    return ReportWindow.of_days(due[0], due[-1], time_zone) if due else None
