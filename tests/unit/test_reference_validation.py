"""A reference drop's checks: rows without a key or a required column, duplicated keys, devices in unknown spaces."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from chispa import assert_df_equality
from pyspark.sql import SparkSession

from transformations.conform import MissingColumnsError, conform_to
from transformations.reference import DEVICES, SPACES, reference_rejects, with_drop_verdict
from transformations.schemas import REFERENCE_REJECT

INSTALLED = datetime(2025, 6, 1)
DEVICE_VERDICT = (
    "device_id string, space_id string, device_type string, model string, installed_at timestamp, "
    "retired_at timestamp, reason string"
)


def test_a_device_in_a_space_the_registry_does_not_have_is_rejected(spark: SparkSession) -> None:
    spaces = spark.createDataFrame([("s1",)], "space_id string")
    drop = spark.createDataFrame(
        [("d1", "s1", "co2", "M1", INSTALLED, None), ("d2", "s9", "co2", "M1", INSTALLED, None)], DEVICES.drop_schema
    )
    expected = spark.createDataFrame(
        [("d1", "s1", "co2", "M1", INSTALLED, None, None), ("d2", "s9", "co2", "M1", INSTALLED, None, "unknown_space")],
        DEVICE_VERDICT,
    )
    checked = drop.transform(with_drop_verdict(DEVICES, spaces))
    assert_df_equality(checked, expected, ignore_nullable=True, ignore_row_order=True)


def test_missing_keys_missing_columns_and_duplicates_are_rejected_first(spark: SparkSession) -> None:
    spaces = spark.createDataFrame([("s1",)], "space_id string")
    drop = spark.createDataFrame(
        [
            (None, "s1", "co2", "M1", INSTALLED, None),
            (" ", "s1", "co2", "M1", INSTALLED, None),
            ("d1", None, "co2", "M1", INSTALLED, None),
            ("d2", "s9", None, "M1", INSTALLED, None),
            ("d3", "s1", "co2", "M1", INSTALLED, None),
            ("d3", "s1", "door", "M2", INSTALLED, None),
        ],
        DEVICES.drop_schema,
    )
    expected = spark.createDataFrame(
        [
            (None, "s1", "co2", "M1", INSTALLED, None, "missing_key"),
            (" ", "s1", "co2", "M1", INSTALLED, None, "missing_key"),
            ("d1", None, "co2", "M1", INSTALLED, None, "missing_space_id"),
            ("d2", "s9", None, "M1", INSTALLED, None, "missing_device_type"),
            ("d3", "s1", "co2", "M1", INSTALLED, None, "duplicate_key"),
            ("d3", "s1", "door", "M2", INSTALLED, None, "duplicate_key"),
        ],
        DEVICE_VERDICT,
    )
    checked = drop.transform(with_drop_verdict(DEVICES, spaces))
    assert_df_equality(checked, expected, ignore_nullable=True, ignore_row_order=True)


def test_spaces_are_checked_for_keys_and_required_columns_only(spark: SparkSession) -> None:
    drop = spark.createDataFrame(
        [
            ("s1", "c1", "b1", 0, "Lobby", "lobby", 80.0, 40, None),
            ("s2", "c1", None, 1, "Office", "office", 20.0, 2, "T"),
        ],
        SPACES.drop_schema,
    )
    expected = spark.createDataFrame(
        [
            ("s1", "c1", "b1", 0, "Lobby", "lobby", 80.0, 40, None, None),
            ("s2", "c1", None, 1, "Office", "office", 20.0, 2, "T", "missing_building_id"),
        ],
        ", ".join(f"{f.name} {f.dataType.simpleString()}" for f in SPACES.drop_schema.fields) + ", reason string",
    )
    nothing = spark.createDataFrame([], "space_id string")
    assert_df_equality(
        drop.transform(with_drop_verdict(SPACES, nothing)), expected, ignore_nullable=True, ignore_row_order=True
    )


def test_rejected_rows_are_recorded_with_reason_drop_time_and_content(spark: SparkSession) -> None:
    checked = spark.createDataFrame(
        [("d1", "s1", "co2", "M1", INSTALLED, None, None), ("d2", "s9", "co2", "M1", None, None, "unknown_space")],
        DEVICE_VERDICT,
    )
    effective_at = datetime(2026, 2, 1, tzinfo=UTC)
    row = '{"device_id":"d2","space_id":"s9","device_type":"co2","model":"M1","installed_at":null,"retired_at":null}'
    expected = spark.createDataFrame([("devices", "d2", "unknown_space", datetime(2026, 2, 1), row)], REFERENCE_REJECT)
    rejects = checked.transform(reference_rejects(DEVICES, effective_at))
    assert_df_equality(rejects, expected, ignore_nullable=True)


def test_a_source_table_is_conformed_by_name_and_one_lacking_columns_is_refused(spark: SparkSession) -> None:
    source = spark.createDataFrame(
        [("2025-06-01 00:00:00", "M1", "co2", "s1", "D1", None)],
        "INSTALLED_AT string, model string, device_type string, space_id string, device_id string, retired_at string",
    )
    expected = spark.createDataFrame([("D1", "s1", "co2", "M1", INSTALLED, None)], DEVICES.drop_schema)
    assert_df_equality(source.transform(conform_to(DEVICES.drop_schema)), expected, ignore_nullable=True)
    with pytest.raises(MissingColumnsError, match="missing columns retired_at"):
        source.drop("retired_at").transform(conform_to(DEVICES.drop_schema))
