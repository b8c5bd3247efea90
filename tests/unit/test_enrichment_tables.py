"""The enrichment computes each table once and each frame that several tables are built on once."""

from __future__ import annotations

from pyspark.accumulators import Accumulator
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import LongType

from smartspaces import progress
from smartspaces.stages.enrichment.service import computed_tables
from transformations.reporting_schemas import BUILDING_DAILY, SPACE_DAILY, SPACE_METRIC_HOURLY
from transformations.star_schema import StarSchema


def counted_rows(spark: SparkSession, rows: int) -> tuple[DataFrame, Accumulator[int]]:
    """A frame of `rows` rows and an accumulator that each computation of one of its rows adds one to."""
    computed = spark.sparkContext.accumulator(0)

    def counted(value: int) -> int:
        computed.add(1)
        return value

    frame = spark.range(rows).select(F.udf(counted, LongType())("id").alias("value"))
    return frame, computed


def test_frames_that_several_tables_are_built_on_are_each_computed_once(spark: SparkSession) -> None:
    base, computed = counted_rows(spark, 40)
    # The second shared frame is built on the first: its cache reads the first's.
    per_ten = base.groupBy((F.col("value") % 10).alias("bucket")).agg(F.count("*").alias("rows"))
    schema = StarSchema(
        tables={
            SPACE_METRIC_HOURLY: base.where(F.col("value") < 20),
            SPACE_DAILY: per_ten.where(F.col("bucket") < 5),
            BUILDING_DAILY: per_ten.agg(F.sum("rows").alias("rows")),
        },
        shared=(base, per_ten),
    )

    with progress.step("facts", unit="tables") as building:
        tables, rows = computed_tables(schema, building)

    assert computed.value == 40
    assert rows == {SPACE_METRIC_HOURLY: 20, SPACE_DAILY: 5, BUILDING_DAILY: 1}
    assert sorted(row["bucket"] for row in tables[SPACE_DAILY].collect()) == [0, 1, 2, 3, 4]
    assert tables[BUILDING_DAILY].collect()[0]["rows"] == 40
    assert tables[SPACE_METRIC_HOURLY].count() == 20
    # Read from the local checkpoints: nothing is computed again, and no cache is left behind.
    assert computed.value == 40
    assert not base.is_cached and not per_ten.is_cached
