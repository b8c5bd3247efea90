"""The time window an enrichment run covers, in the campus's time zone.

A window is [start, end) in UTC instants. Hourly facts and critical events are replaced for exactly that
span; daily facts only for the local days the window covers whole (a window of hours writes none).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class ReportWindow:
    start: datetime
    end: datetime
    time_zone: str

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("a window's start and end must be aware datetimes")
        if self.end <= self.start:
            raise ValueError(f"a window must end after it starts: {self.start} .. {self.end}")
        if self.start.minute or self.start.second or self.start.microsecond or self.end.minute or self.end.second:
            raise ValueError("a window starts and ends on whole hours")

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    @classmethod
    def of_days(cls, first: date, last: date, time_zone: str) -> ReportWindow:
        """Local days first..last (both included), from local midnight to local midnight."""
        if last < first:
            raise ValueError(f"the last day {last} is before the first {first}")
        zone = ZoneInfo(time_zone)
        start = datetime.combine(first, time(), zone).astimezone(UTC)
        end = datetime.combine(last + timedelta(days=1), time(), zone).astimezone(UTC)
        return cls(start, end, time_zone)

    @classmethod
    def yesterday(cls, now: datetime, time_zone: str) -> ReportWindow:
        """The local day before `now`'s local day: the default window."""
        today = now.astimezone(ZoneInfo(time_zone)).date()
        return cls.of_days(today - timedelta(days=1), today - timedelta(days=1), time_zone)

    @classmethod
    def last_days(cls, days: int, now: datetime, time_zone: str) -> ReportWindow:
        """The last `days` local days up to and including today (today's facts grow on each re-run)."""
        today = now.astimezone(ZoneInfo(time_zone)).date()
        return cls.of_days(today - timedelta(days=days - 1), today, time_zone)

    @classmethod
    def last_hours(cls, hours: int, now: datetime, time_zone: str) -> ReportWindow:
        """The last `hours` whole hours before `now` (the current, unfinished hour excluded)."""
        end = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        return cls(end - timedelta(hours=hours), end, time_zone)

    @property
    def whole_local_days(self) -> tuple[date, ...]:
        """The local days that lie entirely inside the window: the days whose daily facts it writes."""
        zone = self.zone
        day = self.start.astimezone(zone).date()
        days = []
        while True:
            day_start = datetime.combine(day, time(), zone)
            day_end = datetime.combine(day + timedelta(days=1), time(), zone)
            if day_start >= self.end:
                break
            if day_start >= self.start and day_end <= self.end:
                days.append(day)
            day += timedelta(days=1)
        return tuple(days)

    def utc_days(self, lookback: timedelta = timedelta()) -> tuple[date, ...]:
        """The UTC days (Cassandra's `day` partition key) that [start - lookback, end) touches."""
        first = (self.start - lookback).astimezone(UTC).date()
        last = (self.end - timedelta(microseconds=1)).astimezone(UTC).date()
        return tuple(first + timedelta(days=offset) for offset in range((last - first).days + 1))

    def previous(self) -> ReportWindow:
        """The comparable window just before this one (same length), for row-count comparisons."""
        length = self.end - self.start
        return ReportWindow(self.start - length, self.start, self.time_zone)

    def describe(self) -> str:
        zone = self.zone
        return (
            f"{self.start.astimezone(zone).isoformat()} .. {self.end.astimezone(zone).isoformat()} ({self.time_zone})"
        )
