"""The smoke flow's readings: synthesised deterministically, summarised per device, latest per device."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from transformations.ranking import newest_by
from transformations.schemas import SMOKE_READING

SMOKE_METRIC = "temperature"


def synthesize_readings(run_id: str, start: datetime, devices: int) -> Callable[[DataFrame], DataFrame]:
    """Turns spark.range(n) into n readings: device id % devices, one minute apart, a smooth temperature."""

    def transform(ids: DataFrame) -> DataFrame:
        readings = ids.select(
            F.lit(run_id).alias("run_id"),
            F.format_string("%s-%06d", F.lit(run_id), F.col("id")).alias("reading_id"),
            F.format_string("smoke-device-%03d", F.col("id") % devices).alias("device_id"),
            F.lit(SMOKE_METRIC).alias("metric"),
            F.round(F.lit(21.0) + F.lit(2.0) * F.sin(F.col("id") / 10.0), 2).alias("value"),
            F.timestamp_seconds(F.lit(int(start.timestamp())) + F.col("id") * 60).alias("event_time"),
        )
        return readings.select([F.col(field.name).cast(field.dataType) for field in SMOKE_READING.fields])

    return transform


def summarize_by_device(readings: DataFrame) -> DataFrame:
    """Per run and device: reading count, min, max, mean (2 decimals) and the last event time."""
    return readings.groupBy("run_id", "device_id").agg(
        F.count("*").alias("readings"),
        F.min("value").alias("min_value"),
        F.max("value").alias("max_value"),
        F.round(F.avg("value"), 2).alias("avg_value"),
        F.max("event_time").alias("last_event_time"),
    )


def latest_by_device(readings: DataFrame) -> DataFrame:
    """The newest reading of each device (ties broken by reading id, so the choice is deterministic)."""
    return readings.transform(newest_by("device_id", ("event_time", "reading_id"))).select(
        "device_id", "metric", "value", "event_time", "reading_id"
    )
