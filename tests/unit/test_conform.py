"""conform_to: rows shaped to a declared schema, with derived columns, and missing columns named."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from chispa import assert_df_equality
from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import DateType, DoubleType, LongType, StringType, StructField, StructType

from transformations.conform import MissingColumnsError, conform_to

TARGET = StructType(
    [
        StructField("space_id", StringType()),
        StructField("local_date", DateType()),
        StructField("readings", LongType()),
        StructField("value_avg", DoubleType()),
    ]
)


def test_rows_get_exactly_the_schemas_columns_in_its_order_types_and_spelling(spark: SparkSession) -> None:
    rows = spark.createDataFrame(
        [(21, "s1", "extra", "2026-01-02", "20.5")],
        "READINGS int, Space_Id string, note string, local_date string, value_avg string",
    )
    expected = spark.createDataFrame([("s1", date(2026, 1, 2), 21, 20.5)], TARGET)
    assert_df_equality(rows.transform(conform_to(TARGET)), expected)


def test_derived_columns_are_computed_and_win_over_a_column_of_the_same_name(spark: SparkSession) -> None:
    rows = spark.createDataFrame(
        [("s1", datetime(2026, 1, 2, 23, 30), 3, 1.0)],
        "space_id string, hour_start timestamp, readings int, value double",
    )
    derived = {"local_date": F.to_date("hour_start"), "value_avg": F.col("value") * 2, "readings": F.lit(7)}
    expected = spark.createDataFrame([("s1", date(2026, 1, 2), 7, 2.0)], TARGET)
    assert_df_equality(rows.transform(conform_to(TARGET, derived)), expected, ignore_nullable=True)


def test_missing_columns_not_derived_are_refused_by_name(spark: SparkSession) -> None:
    rows = spark.createDataFrame([("s1", 3)], "space_id string, readings int")
    with pytest.raises(MissingColumnsError, match=r"missing columns value_avg \(has space_id, readings\)"):
        rows.transform(conform_to(TARGET, {"local_date": F.current_date()}))
    with pytest.raises(MissingColumnsError, match="missing columns local_date, value_avg "):
        rows.transform(conform_to(TARGET))


def test_rows_already_of_the_schemas_shape_are_returned_as_they_are(spark: SparkSession) -> None:
    rows = spark.createDataFrame([("s1", date(2026, 1, 2), 21, 20.5)], TARGET)
    assert rows.transform(conform_to(TARGET)) is rows
    # The same columns in another order, or another type, are still selected and cast.
    reordered = rows.select("local_date", "space_id", "readings", "value_avg")
    assert_df_equality(reordered.transform(conform_to(TARGET)), rows)
    narrower = rows.withColumn("readings", F.col("readings").cast("int"))
    assert narrower.transform(conform_to(TARGET)).schema == TARGET
