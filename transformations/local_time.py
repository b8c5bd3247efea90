"""Instants to the UTC hours and local days the star schema counts in.

The session's zone is UTC. Spark's own functions (date_trunc, from_utc_timestamp) look the zone's rules up
for each row through java.time objects; over a window's events, read once, that was about a twentieth of
the read's CPU. A zone's offset changes a few times a year, so within a window the local day is arithmetic
on an instant's microseconds and the offsets of that span, taken once from the same rules Spark uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pyspark.sql import Column
from pyspark.sql import functions as F

MICROS_PER_SECOND = 1_000_000
MICROS_PER_HOUR = 3_600 * MICROS_PER_SECOND
MICROS_PER_DAY = 24 * MICROS_PER_HOUR
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class UtcOffsets:
    """A zone's UTC offsets over [start, end): `offsets[0]` (seconds) in force at start, each later one from
    its instant in `changes` (changes[i] starts offsets[i + 1])."""

    time_zone: str
    start: datetime
    end: datetime
    offsets: tuple[int, ...]
    changes: tuple[datetime, ...]

    def __post_init__(self) -> None:
        if len(self.offsets) != len(self.changes) + 1:
            raise ValueError("one offset at the start and one for each change")
        if any(not self.start < change < self.end for change in self.changes):
            raise ValueError(f"a change outside {self.start} .. {self.end}: {self.changes}")


def _micros(instant: datetime) -> int:
    return (instant - EPOCH) // timedelta(microseconds=1)


def _long(value: int) -> Column:
    return F.lit(value).cast("long")


def local_date_of(instant: Column, time_zone: str) -> Column:
    """The calendar day in time_zone of an instant."""
    return F.to_date(F.from_utc_timestamp(instant, time_zone))


def utc_hour_start(instant: Column) -> Column:
    """The UTC hour an instant falls in (date_trunc('hour') in a UTC session)."""
    micros = F.unix_micros(instant)
    return F.timestamp_micros(micros - F.pmod(micros, _long(MICROS_PER_HOUR)))


def local_date_within(instant: Column, offsets: UtcOffsets) -> Column:
    """local_date_of for an instant in [offsets.start, offsets.end), from its offset in that span; outside the
    span, local_date_of itself."""
    micros = F.unix_micros(instant)
    offset_micros = _long(offsets.offsets[-1] * MICROS_PER_SECOND)
    for change, before in reversed(list(zip(offsets.changes, offsets.offsets, strict=False))):
        offset_micros = F.when(micros < _long(_micros(change)), _long(before * MICROS_PER_SECOND)).otherwise(
            offset_micros
        )
    local_micros = micros + offset_micros
    local_days = (local_micros - F.pmod(local_micros, _long(MICROS_PER_DAY))) / _long(MICROS_PER_DAY)
    is_within = (micros >= _long(_micros(offsets.start))) & (micros < _long(_micros(offsets.end)))
    return F.when(is_within, F.date_from_unix_date(local_days.cast("int"))).otherwise(
        local_date_of(instant, offsets.time_zone)
    )
