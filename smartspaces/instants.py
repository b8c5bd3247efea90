"""Instants in UTC: the platform stores and compares times as aware UTC datetimes."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_instant(value: str) -> datetime:
    """An ISO 8601 time as an aware UTC datetime; without an offset it is taken as UTC."""
    moment = datetime.fromisoformat(value)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def as_utc(moment: datetime | None) -> datetime | None:
    """A time the Cassandra driver returned (naive, in UTC) made aware, so Spark does not read it as local."""
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
