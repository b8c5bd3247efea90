"""Lists aggregated first in the JVM (smartspaces.partial_lists), then merged by Spark, equal those of Spark's
own max and collect_list over the same rows, however the input's keys interleave and however often the map of
open groups fills. Integration: the class comes with the project's jar, which only the integration
tests' session loads."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from chispa import assert_df_equality
from pyspark.errors import IllegalArgumentException
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from smartspaces.partial_lists import jvm_partial_lists
from transformations.event_digest import merged_lists, spark_partial_lists

pytestmark = pytest.mark.integration

KEY = ("device_id", "hour", "in_window")
SCHEMA = (
    "device_id string, hour int, in_window boolean, event_time timestamp, value double, "
    "reading struct<id:string,value:double>"
)
START = datetime(2026, 1, 15, 8)


def rows() -> list[tuple[object, ...]]:
    """Three devices' events, their keys interleaved, with null values, null readings and a null key column."""
    events: list[tuple[object, ...]] = []
    for index in range(60):
        device = ("d1", "d2", None)[index % 3]
        value = None if index % 7 == 0 else float(index)
        reading = (f"r{index}", float(index) / 2) if index % 5 == 0 else None
        events.append((device, index // 20, index % 11 != 0, START + timedelta(minutes=index), value, reading))
    return events


def in_order(lists: DataFrame) -> DataFrame:
    """Each list sorted, to compare lists whose order depends on the partitions."""
    return lists.select(*KEY, "event_time", *(F.sort_array(name).alias(name) for name in ("value", "reading")))


@pytest.mark.parametrize("open_groups", [1, 2, 512])
def test_partial_lists_merge_into_sparks_own_lists(spark: SparkSession, open_groups: int) -> None:
    events = spark.createDataFrame(rows(), SCHEMA).repartition(2)
    expected = merged_lists(spark_partial_lists(events, len(KEY)), len(KEY))
    actual = merged_lists(jvm_partial_lists(events, len(KEY), open_groups), len(KEY))
    assert_df_equality(in_order(actual), in_order(expected), ignore_row_order=True)


def test_a_key_read_in_one_run_is_one_partial_row(spark: SparkSession) -> None:
    events = spark.createDataFrame(sorted(rows(), key=lambda row: (str(row[0]), row[1], row[2])), SCHEMA)
    groups = events.select(*KEY).distinct().count()
    assert jvm_partial_lists(events.coalesce(1), len(KEY), 1).count() == groups


def test_the_maximum_must_be_a_timestamp(spark: SparkSession) -> None:
    events = spark.createDataFrame(rows(), SCHEMA).select(*KEY, "value", "event_time")
    with pytest.raises(IllegalArgumentException, match="must be a timestamp"):
        jvm_partial_lists(events, len(KEY), 8)
