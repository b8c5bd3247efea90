"""Column helpers shared by every event-like DataFrame."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F


def event_day() -> Column:
    """The UTC calendar day of event_time, which partitions events in Cassandra."""
    return F.to_date(F.col("event_time"))


def with_event_day(events: DataFrame) -> DataFrame:
    """Adds the event's day (event_day) as `day`."""
    return events.withColumn("day", event_day())


def columns_of(names: Sequence[str], computed: Mapping[str, Column]) -> list[Column]:
    """The named columns in order, each the computed one where there is one, else the input's own: a frame's
    new shape in one projection (each DataFrame step is analysed again)."""
    return [computed.get(name, F.col(name)).alias(name) for name in names]
