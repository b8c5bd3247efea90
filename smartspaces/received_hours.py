"""When the ingest last stored events of each hour of event time (Cassandra's `received_hours`).

The ingest records a batch's hours as it stores the batch; the enrichment's catch-up reads them to find the
days that received events after their last written run (late events, a replayed period).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from cassandra.cluster import Session
from cassandra.concurrent import execute_concurrent_with_args

from smartspaces.cassandra_tables import RECEIVED_HOURS

HOUR_US = 3_600_000_000


def hours_of(event_times_us: Iterable[int]) -> set[datetime]:
    """The whole UTC hours the event times (microseconds since the epoch) fall in."""
    return {datetime.fromtimestamp(us // HOUR_US * 3600, UTC) for us in event_times_us}


class ReceivedHours:
    """Reads and writes `received_hours` in one keyspace with the Python driver."""

    def __init__(self, session: Session, keyspace: str) -> None:
        self.session = session
        table = RECEIVED_HOURS.qualified(keyspace)
        self._insert = session.prepare(f"INSERT INTO {table} (day, hour, last_received) VALUES (?, ?, ?)")
        self._select = session.prepare(f"SELECT hour, last_received FROM {table} WHERE day = ?")

    def record(self, hours: Iterable[datetime], received_at: datetime) -> None:
        """Marks the hours as receiving events at received_at (a batch's hours: a handful of rows)."""
        rows = [(hour.astimezone(UTC).date(), hour, received_at) for hour in hours]
        execute_concurrent_with_args(self.session, self._insert, rows, raise_on_first_error=True)

    def between(self, start: datetime, end: datetime) -> dict[datetime, datetime]:
        """Each hour in [start, end) that received events, with when it last did (aware UTC datetimes)."""
        first, last = start.astimezone(UTC).date(), (end - timedelta(microseconds=1)).astimezone(UTC).date()
        days = [(first + timedelta(days=offset),) for offset in range((last - first).days + 1)]
        received: dict[datetime, datetime] = {}
        for outcome in execute_concurrent_with_args(self.session, self._select, days, raise_on_first_error=True):
            for row in outcome.result_or_exc:
                # The driver reads timestamps as naive UTC.
                hour = row.hour.replace(tzinfo=UTC)
                if start <= hour < end:
                    received[hour] = row.last_received.replace(tzinfo=UTC)
        return received
