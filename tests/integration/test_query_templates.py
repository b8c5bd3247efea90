"""Queries kept over placeholders (smartspaces.query_templates, the JVM's smartspaces.spark.QueryTemplate) give
what the same queries built over each batch give. Integration: the class comes with the project's jar, which only
the integration tests' session loads."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from chispa import assert_df_equality
from pyspark.errors import IllegalArgumentException
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import IntegerType, StringType, StructField, StructType

from smartspaces.query_templates import QueryTemplates
from smartspaces.session import local_dataframe, runtime_conf

pytestmark = pytest.mark.integration

READINGS = StructType([StructField("device_id", StringType()), StructField("value", IntegerType())])
LIMITS = StructType([StructField("device_id", StringType()), StructField("limit", IntegerType())])


def queries(readings: DataFrame, limits: DataFrame) -> tuple[DataFrame, DataFrame]:
    """Readings over their device's limit, and per device the readings that another reading of it exceeds (a
    self-join, for which Spark copies the readings' relation with new column ids)."""
    over_limit = readings.join(limits, "device_id").where(F.col("value") > F.col("limit")).select("device_id", "value")
    is_same_device = F.col("earlier.device_id") == F.col("later.device_id")
    is_greater = F.col("later.value") > F.col("earlier.value")
    exceeded = (
        readings.alias("earlier")
        .join(readings.alias("later"), is_same_device & is_greater)
        .groupBy(F.col("earlier.device_id").alias("device_id"))
        .agg(F.count(F.lit(1)).alias("exceeded"))
    )
    return over_limit, exceeded


def batch(spark: SparkSession, rows: Sequence[tuple[object, ...]], schema: StructType) -> DataFrame:
    """A local DataFrame, as the change feed reads its changes (through Arrow)."""
    with runtime_conf(spark, {"spark.sql.execution.arrow.pyspark.enabled": "true"}):
        return local_dataframe(spark, rows, schema)


def test_each_batch_gets_the_results_of_queries_built_over_it(spark: SparkSession) -> None:
    templates = QueryTemplates(spark, (READINGS, LIMITS), queries)
    batches = [
        ([("d1", 5), ("d1", 9), ("d2", 1)], [("d1", 6), ("d2", 0)]),
        ([("d2", 3), ("d2", 4), ("d3", 7)], [("d2", 3), ("d3", 10)]),
    ]
    for readings, limits in batches:
        inputs = (batch(spark, readings, READINGS), batch(spark, limits, LIMITS))
        assert all(frame.isLocal() for frame in inputs)
        kept = templates.over(*inputs)
        built = queries(*inputs)
        for from_template, direct in zip(kept, built, strict=True):
            assert_df_equality(from_template, direct, ignore_row_order=True)
    over_limit, exceeded = templates.over(batch(spark, batches[1][0], READINGS), batch(spark, batches[1][1], LIMITS))
    assert sorted(over_limit.collect()) == [("d2", 4)]
    assert sorted(exceeded.collect()) == [("d2", 1)]


def test_an_input_that_is_not_local_is_read_once_and_used_the_same_way(spark: SparkSession) -> None:
    templates = QueryTemplates(spark, (READINGS, LIMITS), queries)
    no_limits = spark.createDataFrame([], LIMITS)
    assert not no_limits.isLocal()
    over_limit, exceeded = templates.over(batch(spark, [("d1", 1), ("d1", 2)], READINGS), no_limits)
    assert over_limit.collect() == []
    assert exceeded.collect() == [("d1", 1)]


def test_inputs_of_another_schema_are_refused_naming_both(spark: SparkSession) -> None:
    templates = QueryTemplates(spark, (READINGS, LIMITS), queries)
    expected = r"input 1 has schema struct<device_id:string,value:int>, the template's is struct<device_id:string,"
    with pytest.raises(IllegalArgumentException, match=expected):
        templates.over(batch(spark, [("d1", 1)], READINGS), batch(spark, [("d1", 1)], READINGS))
    with pytest.raises(ValueError, match="2 inputs expected, got 1"):
        templates.over(batch(spark, [("d1", 1)], READINGS))
