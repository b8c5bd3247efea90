"""Point-in-time attribution: each event gets the device's space, and that space's attributes, valid at its time.

The registry histories are SCD type 2 (valid_from, valid_to; valid_to null while a version is open).
A key's first version is taken to reach back without limit: the registry is often loaded after the
devices started sending, and an event older than the first drop still belongs to the first known space.
"""

from __future__ import annotations

from collections.abc import Callable

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

SPACE_ATTRIBUTES = ("building_id", "space_type", "capacity")


def with_open_start(key: str) -> Callable[[DataFrame], DataFrame]:
    """Adds `effective_from`: valid_from, or null (no lower bound) on each key's first version."""

    def transform(history: DataFrame) -> DataFrame:
        first = F.min("valid_from").over(Window.partitionBy(key))
        return history.withColumn(
            "effective_from", F.when(F.col("valid_from") == first, F.lit(None)).otherwise(F.col("valid_from"))
        )

    return transform


def _valid_at(time: Column, version_from: Column, version_to: Column) -> Column:
    return (version_from.isNull() | (time >= version_from)) & (version_to.isNull() | (time < version_to))


def attach_device_space(devices: DataFrame) -> Callable[[DataFrame], DataFrame]:
    """Adds `space_id`: the space of the device's version valid at event_time (null if none was)."""
    versions = devices.transform(with_open_start("device_id")).select(
        F.col("device_id").alias("_device_id"),
        F.col("space_id"),
        F.col("effective_from").alias("_from"),
        F.col("valid_to").alias("_to"),
    )

    def transform(events: DataFrame) -> DataFrame:
        # Small registry: broadcast, so the events are never shuffled for the range join.
        joined = events.join(
            F.broadcast(versions),
            (events["device_id"] == F.col("_device_id"))
            & _valid_at(events["event_time"], F.col("_from"), F.col("_to")),
            "left",
        )
        return joined.drop("_device_id", "_from", "_to")

    return transform


def attach_space_attributes(spaces: DataFrame) -> Callable[[DataFrame], DataFrame]:
    """Adds building_id, space_type and capacity of the space's version valid at event_time."""
    versions = spaces.transform(with_open_start("space_id")).select(
        F.col("space_id").alias("_space_id"),
        *SPACE_ATTRIBUTES,
        F.col("effective_from").alias("_from"),
        F.col("valid_to").alias("_to"),
    )

    def transform(events: DataFrame) -> DataFrame:
        joined = events.join(
            F.broadcast(versions),
            (events["space_id"] == F.col("_space_id")) & _valid_at(events["event_time"], F.col("_from"), F.col("_to")),
            "left",
        )
        return joined.drop("_space_id", "_from", "_to")

    return transform


def attribute_events(devices: DataFrame, spaces: DataFrame) -> Callable[[DataFrame], DataFrame]:
    """Events → events with the space (and its building, type, capacity) valid at each event's time."""

    def transform(events: DataFrame) -> DataFrame:
        return events.transform(attach_device_space(devices)).transform(attach_space_attributes(spaces))

    return transform


def devices_in_window(start: Column, end: Column) -> Callable[[DataFrame], DataFrame]:
    """The device ids with a version overlapping [start, end): the devices whose events a window reads."""

    def transform(devices: DataFrame) -> DataFrame:
        versions = devices.transform(with_open_start("device_id"))
        overlaps = (F.col("effective_from").isNull() | (F.col("effective_from") < end)) & (
            F.col("valid_to").isNull() | (F.col("valid_to") > start)
        )
        return versions.where(overlaps).select("device_id", "device_type").distinct()

    return transform
