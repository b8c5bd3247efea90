"""Columns that name what is wrong with a row, added to the enriched DataFrames before they are validated.

A finding column is null on a sound row and holds the offending value otherwise (the orphan space_id, the
metric whose range a row leaves), so one "values are null" expectation checks a whole rule in the same
aggregation as the other checks of its table, and a failed rule can name its offenders (offending_values).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from functools import reduce
from typing import Any

from pyspark.sql import Column, DataFrame, Row, SparkSession
from pyspark.sql import functions as F

from transformations.contract import METRICS, Metric

VALUE_OUT_OF_RANGE = "dq_value_out_of_range"
NEWEST_EVENT_TIME = "newest_event_time"
LAG_HOURS = "lag_hours"


def orphan_column(column: str) -> str:
    """The finding column of a reference from `column` to a dimension."""
    return f"dq_orphan_{column}"


def with_orphans(column: str, dimension: DataFrame, dimension_column: str) -> Callable[[DataFrame], DataFrame]:
    """Adds orphan_column(column): the row's `column` when no row of `dimension` has it, else null.

    A null reference is no orphan (not_null_keys reports it). The dimension's distinct ids are broadcast:
    dimensions hold thousands of spaces or devices, the facts up to hundreds of thousands of rows.
    """
    known = f"dq_known_{column}"

    def add_orphans(facts: DataFrame) -> DataFrame:
        known_ids = dimension.select(F.col(dimension_column).alias(known)).where(F.col(known).isNotNull()).distinct()
        joined = facts.join(F.broadcast(known_ids), F.col(column) == F.col(known), "left")
        orphan = F.when(F.col(column).isNotNull() & F.col(known).isNull(), F.col(column))
        return joined.withColumn(orphan_column(column), orphan).drop(known)

    return add_orphans


def within_metric_range(metrics: Mapping[str, Metric] = METRICS) -> Column:
    """True when value_min and value_max both lie in the contract's range of the row's metric."""
    ranges = [
        (F.col("metric") == metric.name)
        & F.col("value_min").between(metric.minimum, metric.maximum)
        & F.col("value_max").between(metric.minimum, metric.maximum)
        for metric in metrics.values()
    ]
    return reduce(lambda left, right: left | right, ranges)


def with_value_out_of_range(metrics: Mapping[str, Metric] = METRICS) -> Callable[[DataFrame], DataFrame]:
    """Adds VALUE_OUT_OF_RANGE: the metric of an hourly row whose values leave the metric's range, else null.

    A metric outside the contract, or a missing value, has no range to be within, so it is a finding too;
    a missing metric is not (not_null_keys reports it).
    """

    def add_value_out_of_range(hourly: DataFrame) -> DataFrame:
        sound = F.coalesce(within_metric_range(metrics), F.lit(False))
        return hourly.withColumn(VALUE_OUT_OF_RANGE, F.when(F.col("metric").isNotNull() & ~sound, F.col("metric")))

    return add_value_out_of_range


def event_freshness(spark: SparkSession, newest: datetime | DataFrame | None, reference: datetime) -> DataFrame:
    """One row: the newest event time and how many hours it lies before `reference` (null when no events).

    newest: the newest event time itself, or a DataFrame of events (or of their maximum) with an
    `event_time` column, whose maximum Spark computes without collecting the events.
    """
    if isinstance(newest, DataFrame):
        newest_row = newest.agg(F.max("event_time").alias(NEWEST_EVENT_TIME))
    else:
        if newest is not None and newest.tzinfo is None:
            raise ValueError(f"the newest event time must be an aware datetime, got {newest}")
        newest_row = spark.createDataFrame([(newest,)], f"{NEWEST_EVENT_TIME} timestamp")
    # A timestamp cast to double is seconds since the epoch, whatever the session's time zone.
    lag_hours = (F.lit(reference.timestamp()) - F.col(NEWEST_EVENT_TIME).cast("double")) / 3600.0
    return newest_row.withColumn(LAG_HOURS, lag_hours)


def offending_values(frame: DataFrame, expectation_type: str, kwargs: Mapping[str, Any], size: int) -> list[Row]:
    """The most frequent offending values of a failed expectation, with their rows (`value...`, `rows`).

    Only `size` grouped rows reach the driver; expectations on whole tables or on nulls have none to show.
    """
    if expectation_type in ("expect_compound_columns_to_be_unique", "expect_column_values_to_be_unique"):
        columns = list(kwargs.get("column_list") or [kwargs["column"]])
        grouped = frame.groupBy(*columns).agg(F.count(F.lit(1)).alias("rows")).where(F.col("rows") > 1)
    elif expectation_type == "expect_column_values_to_be_null":
        columns = [kwargs["column"]]
        grouped = frame.where(F.col(columns[0]).isNotNull()).groupBy(*columns).agg(F.count(F.lit(1)).alias("rows"))
    elif expectation_type == "expect_column_values_to_be_between":
        columns = [kwargs["column"]]
        low, high = kwargs.get("min_value"), kwargs.get("max_value")
        value = F.col(columns[0])
        outside = F.lit(False)
        if low is not None:
            outside = outside | (value < F.lit(low))
        if high is not None:
            outside = outside | (value > F.lit(high))
        grouped = frame.where(outside).groupBy(*columns).agg(F.count(F.lit(1)).alias("rows"))
    else:
        return []
    return grouped.orderBy(F.desc("rows"), *columns).limit(size).collect()
