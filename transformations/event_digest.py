"""A window's attributed events condensed, in the pass that reads them, to what the star schema needs of them.

Keeping the digest instead of the events spares every fact a re-read of the window's events: one row per
device, space version, event type, metric, UTC hour and local day, with the hour's values (an exact
percentile needs each one), the meter readings in full (energy needs their order), and the events placed in
no space in full (they are quarantined). `event_time` of a row is its newest event's, so the row sits in the
hour, local day and window of its events. What each fact reads back: the values as lists
(`space_metric_hourly_of_lists`), `digest_energy_readings`, `digest_unattributed`; `capacity_by_day` and the
freshness check read the rows.
"""

from __future__ import annotations

from collections.abc import Callable

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from transformations.contract import EventType
from transformations.energy import ENERGY_METRIC
from transformations.local_time import UtcOffsets, local_date_within, utc_hour_start
from transformations.point_in_time import SPACE_ATTRIBUTES
from transformations.report_window import ReportWindow
from transformations.space_facts import VALUES

# What attribute_events adds to an event; an unattributed event has none of it.
SPACE_COLUMNS = ("space_id", *SPACE_ATTRIBUTES)
# A digest row's key: what an event has that a fact groups by, and where its time falls.
EVENT_KEY = ("device_id", "space_id", "building_id", "capacity", "event_type", "metric", "unit")
DIGEST_KEY = (*EVENT_KEY, "hour_start", "local_date", "in_window")
READINGS, UNPLACED = "readings", "unplaced"


def in_window(window: ReportWindow, column: str = "event_time") -> Column:
    return (F.col(column) >= F.lit(window.start)) & (F.col(column) < F.lit(window.end))


# The first half of a "newest time and lists of values per key" aggregation: (frame, the number of its first
# columns that are the key) → per key the newest of the next column, a timestamp, and the list of each later
# column's non-null values, in one row or in several that merged_lists merges.
PartialLists = Callable[[DataFrame, int], DataFrame]


def spark_partial_lists(frame: DataFrame, key_columns: int) -> DataFrame:
    """Spark's own max and collect_list (which leaves the nulls out): one row per key."""
    time, *listed = frame.columns[key_columns:]
    return frame.groupBy(*frame.columns[:key_columns]).agg(
        F.max(time).alias(time), *(F.collect_list(name).alias(name) for name in listed)
    )


def merged_lists(partial: DataFrame, key_columns: int) -> DataFrame:
    """A PartialLists' rows → one per key: the newest time, the lists concatenated."""
    time, *listed = partial.columns[key_columns:]
    return partial.groupBy(*partial.columns[:key_columns]).agg(
        F.max(time).alias(time), *(F.flatten(F.collect_list(name)).alias(name) for name in listed)
    )


def event_digest(
    window: ReportWindow, offsets: UtcOffsets, partial_lists: PartialLists = spark_partial_lists
) -> Callable[[DataFrame], DataFrame]:
    """Attributed events (the window's and the energy lookback's) → their digest (DIGEST_KEY, event_time,
    values, readings, unplaced). Events before the window other than energy readings are left out.
    offsets: the window's zone over the window (transformations.local_time), for each event's local day.
    partial_lists: the aggregation's first half, before its shuffle; the job's (smartspaces.partial_lists)
    spares Spark's sort of every event."""

    def transform(events: DataFrame) -> DataFrame:
        is_reading = (F.col("metric") == ENERGY_METRIC) & F.col("value").isNotNull()
        event_columns = [column for column in events.columns if column not in SPACE_COLUMNS]
        # Each event carries into the aggregation only what its row keeps, null otherwise: when Spark's
        # aggregation sorts its input (too many groups for its hash map), the rows it sorts stay narrow.
        kept = {
            VALUES: F.when(F.col("event_type") == EventType.TELEMETRY.value, F.col("value")),
            READINGS: F.when(is_reading, F.struct("event_time", "event_id", "value")),
            UNPLACED: F.when(F.col("space_id").isNull(), F.struct(*event_columns)),
        }
        selected = (
            events.withColumn("in_window", in_window(window))
            .where(F.col("in_window") | is_reading)
            .select(
                *EVENT_KEY,
                utc_hour_start(F.col("event_time")).alias("hour_start"),
                local_date_within(F.col("event_time"), offsets).alias("local_date"),
                "in_window",
                "event_time",
                *(value.alias(name) for name, value in kept.items()),
            )
        )
        return merged_lists(partial_lists(selected, len(DIGEST_KEY)), len(DIGEST_KEY))

    return transform


def digest_energy_readings(digest: DataFrame) -> DataFrame:
    """Each meter reading as an event (device_id, space_id, metric, event_time, event_id, value)."""
    readings = digest.select("device_id", "space_id", "metric", F.explode(READINGS).alias("reading"))
    return readings.select("device_id", "space_id", "metric", "reading.*")


def digest_unattributed(digest: DataFrame) -> DataFrame:
    """The events that no device version placed in a space, each whole (without the space columns)."""
    return digest.select(F.explode(UNPLACED).alias("event")).select("event.*")
