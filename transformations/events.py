"""Column helpers shared by every event-like DataFrame."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F


def event_day() -> Column:
    """The UTC calendar day of event_time, which partitions events in Cassandra."""
    return F.to_date(F.col("event_time"))


def with_event_day(events: DataFrame) -> DataFrame:
    """Adds the event's day (event_day) as `day`."""
    return events.withColumn("day", event_day())
