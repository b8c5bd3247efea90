"""The Cassandra partitions a window's events live in: (device_id, UTC day) of each device active in the window.

Naming them lets the connector read exactly those partitions instead of scanning the events table.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from transformations.energy import ENERGY_METRIC
from transformations.point_in_time import devices_in_window
from transformations.report_window import ReportWindow

# Energy meters are read one day further back: the reading before the window gives the first increment.
ENERGY_LOOKBACK = timedelta(days=1)


def event_partition_keys(
    window: ReportWindow, lookback: timedelta = ENERGY_LOOKBACK
) -> Callable[[DataFrame], DataFrame]:
    """Device history → distinct (device_id, day) partitions holding the window's events."""

    def transform(devices: DataFrame) -> DataFrame:
        active = devices.transform(devices_in_window(F.lit(window.start - lookback), F.lit(window.end)))
        days = F.array(*[F.lit(day) for day in window.utc_days()])
        meter_days = F.array(*[F.lit(day) for day in window.utc_days(lookback)])
        return (
            active.withColumn(
                "day", F.explode(F.when(F.col("device_type") == ENERGY_METRIC, meter_days).otherwise(days))
            )
            .select("device_id", "day")
            .distinct()
        )

    return transform
