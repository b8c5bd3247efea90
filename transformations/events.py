"""Column helpers shared by every event-like DataFrame."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F


def with_event_day(events: DataFrame) -> DataFrame:
    """Adds the UTC calendar day of event_time, which partitions events in Cassandra."""
    return events.withColumn("day", F.to_date(F.col("event_time")))
