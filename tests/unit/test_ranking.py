"""first_by and newest_by: the first or newest rows of each key, ties broken by the later order columns."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from chispa import assert_df_equality
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from transformations.ranking import first_by, newest_by

T0 = datetime(2026, 3, 1, 8, 0)
READINGS = "device_id string, metric string, event_time timestamp, event_id string, value double"


def at(minute: int) -> datetime:
    return T0 + timedelta(minutes=minute)


def test_newest_by_keeps_each_keys_newest_row_and_breaks_a_time_tie_by_the_next_column(spark: SparkSession) -> None:
    readings = spark.createDataFrame(
        [
            ("d1", "co2", at(1), "e1", 400.0),
            ("d1", "co2", at(2), "e2", 410.0),
            ("d1", "co2", at(2), "e3", 420.0),
            ("d1", "temperature", at(1), "e4", 21.0),
            ("d2", "co2", at(0), "e5", 500.0),
        ],
        READINGS,
    )
    expected = spark.createDataFrame(
        [
            ("d1", "co2", at(2), "e3", 420.0),
            ("d1", "temperature", at(1), "e4", 21.0),
            ("d2", "co2", at(0), "e5", 500.0),
        ],
        READINGS,
    )
    newest = readings.transform(newest_by(("device_id", "metric"), ("event_time", "event_id")))
    assert_df_equality(newest, expected, ignore_row_order=True)


def test_newest_by_puts_nulls_last_so_a_row_without_a_time_is_newest_only_alone(spark: SparkSession) -> None:
    readings = spark.createDataFrame(
        [
            ("d1", "co2", None, "e1", 1.0),
            ("d1", "co2", at(1), "e2", 2.0),
            ("d2", "co2", None, "e3", 3.0),
        ],
        READINGS,
    )
    expected = spark.createDataFrame([("d1", "co2", at(1), "e2", 2.0), ("d2", "co2", None, "e3", 3.0)], READINGS)
    assert_df_equality(readings.transform(newest_by("device_id", "event_time")), expected, ignore_row_order=True)


def test_newest_by_with_a_count_keeps_that_many_per_key_or_all_a_key_has(spark: SparkSession) -> None:
    readings = spark.createDataFrame(
        [
            ("d1", "co2", at(1), "e1", 1.0),
            ("d1", "co2", at(3), "e2", 2.0),
            ("d1", "co2", at(2), "e3", 3.0),
            ("d2", "co2", at(0), "e4", 4.0),
        ],
        READINGS,
    )
    expected = spark.createDataFrame(
        [("d1", "co2", at(3), "e2", 2.0), ("d1", "co2", at(2), "e3", 3.0), ("d2", "co2", at(0), "e4", 4.0)], READINGS
    )
    newest_two = readings.transform(newest_by("device_id", ("event_time", "event_id"), count=2))
    assert_df_equality(newest_two, expected, ignore_row_order=True)


def test_first_by_follows_the_order_as_given_ascending_with_nulls_first(spark: SparkSession) -> None:
    readings = spark.createDataFrame(
        [
            ("d1", "co2", at(5), "e1", 1.0),
            ("d1", "co2", at(5), "e2", None),
            ("d1", "co2", at(5), "e3", 0.5),
            ("d2", "co2", at(0), "e4", 9.0),
            ("d2", "co2", at(4), "e5", 9.0),
        ],
        READINGS,
    )
    # Newest time first; among those, the smallest value (a null one before any) and then the smallest id.
    order = (F.col("event_time").desc(), F.col("value"), F.col("event_id"))
    expected = spark.createDataFrame([("d1", "co2", at(5), "e2", None), ("d2", "co2", at(4), "e5", 9.0)], READINGS)
    assert_df_equality(readings.transform(first_by("device_id", order)), expected, ignore_row_order=True)


def test_a_count_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="count must be at least 1, got 0"):
        first_by("device_id", [], count=0)
