"""SCD type 2 versions from full-snapshot drops, on small hand-made histories and drops."""

from __future__ import annotations

from datetime import UTC, datetime

from chispa import assert_df_equality
from pyspark.sql import DataFrame, SparkSession

from transformations.reference import DEVICES, SPACES, registry_rows
from transformations.reporting_schemas import DIM_DEVICE, DIM_SPACE
from transformations.scd2 import change_counts, current_versions, latest_versions, version_changes, versions_after

HISTORY = (
    "device_id string, valid_from timestamp, valid_to timestamp, is_current boolean, "
    "space_id string, model string, retired_at timestamp"
)
DROP = "device_id string, space_id string, model string, retired_at timestamp"
CHANGES = HISTORY + ", change string"
ATTRIBUTES = ("space_id", "model")
JAN, FEB, MAR = datetime(2026, 1, 1), datetime(2026, 2, 1), datetime(2026, 3, 1)
# The drop's effective time, as the job passes it (an aware UTC instant); Spark hands back naive UTC.
AS_OF = FEB.replace(tzinfo=UTC)


def changes_of(history: DataFrame, drop: DataFrame, held: DataFrame | None = None) -> DataFrame:
    return version_changes(history, drop, "device_id", ATTRIBUTES, AS_OF, "retired_at", held)


def merged(history: DataFrame, changes: DataFrame) -> DataFrame:
    """What the Delta merge keyed by (device_id, valid_from) makes of the history."""
    replaced = history.join(changes.select("device_id", "valid_from"), ["device_id", "valid_from"], "left_anti")
    return replaced.unionByName(changes.drop("change"))


def test_a_new_device_opens_a_version_at_the_drops_time(spark: SparkSession) -> None:
    history = spark.createDataFrame([], HISTORY)
    drop = spark.createDataFrame([("d1", "s1", "M1", None)], DROP)
    expected = spark.createDataFrame([("d1", FEB, None, True, "s1", "M1", None, "opened")], CHANGES)
    assert_df_equality(changes_of(history, drop), expected, ignore_nullable=True)


def test_a_move_closes_the_open_version_and_opens_a_new_one(spark: SparkSession) -> None:
    history = spark.createDataFrame([("d1", JAN, None, True, "s1", "M1", None)], HISTORY)
    drop = spark.createDataFrame([("d1", "s2", "M1", None)], DROP)
    expected = spark.createDataFrame(
        [("d1", JAN, FEB, False, "s1", "M1", None, "closed"), ("d1", FEB, None, True, "s2", "M1", None, "opened")],
        CHANGES,
    )
    assert_df_equality(changes_of(history, drop), expected, ignore_nullable=True, ignore_row_order=True)


def test_an_unchanged_device_changes_nothing_and_nulls_compare_equal(spark: SparkSession) -> None:
    history = spark.createDataFrame(
        [("d1", JAN, None, True, "s1", None, None), ("d0", datetime(2025, 12, 1), JAN, False, "s9", "M0", None)],
        HISTORY,
    )
    drop = spark.createDataFrame([("d1", "s1", None, None)], DROP)
    assert_df_equality(changes_of(history, drop), spark.createDataFrame([], CHANGES), ignore_nullable=True)


def test_a_value_replacing_a_null_is_a_change(spark: SparkSession) -> None:
    history = spark.createDataFrame([("d1", JAN, None, True, "s1", None, None)], HISTORY)
    drop = spark.createDataFrame([("d1", "s1", "M2", None)], DROP)
    expected = spark.createDataFrame(
        [("d1", JAN, FEB, False, "s1", None, None, "closed"), ("d1", FEB, None, True, "s1", "M2", None, "opened")],
        CHANGES,
    )
    assert_df_equality(changes_of(history, drop), expected, ignore_nullable=True, ignore_row_order=True)


def test_a_device_missing_from_the_drop_is_closed_unless_its_row_was_rejected(spark: SparkSession) -> None:
    history = spark.createDataFrame(
        [("d1", JAN, None, True, "s1", "M1", None), ("d2", JAN, None, True, "s1", "M1", None)], HISTORY
    )
    drop = spark.createDataFrame([], DROP)
    rejected = spark.createDataFrame([("d2",), (None,)], "device_id string")
    expected = spark.createDataFrame([("d1", JAN, FEB, False, "s1", "M1", None, "closed")], CHANGES)
    assert_df_equality(changes_of(history, drop, rejected), expected, ignore_nullable=True)


def test_a_retired_device_is_closed_at_its_retirement_and_stays_closed(spark: SparkSession) -> None:
    history = spark.createDataFrame(
        [("d1", JAN, None, True, "s1", "M1", None), ("d2", JAN, FEB, False, "s1", "M1", FEB)], HISTORY
    )
    retired = datetime(2026, 1, 20)
    drop = spark.createDataFrame([("d1", "s1", "M1", retired), ("d2", "s1", "M1", FEB)], DROP)
    expected = spark.createDataFrame([("d1", JAN, retired, False, "s1", "M1", retired, "closed")], CHANGES)
    assert_df_equality(changes_of(history, drop), expected, ignore_nullable=True)


def test_a_device_first_seen_retired_gets_one_closed_version(spark: SparkSession) -> None:
    history = spark.createDataFrame([], HISTORY)
    drop = spark.createDataFrame([("d1", "s1", "M1", MAR)], DROP)
    expected = spark.createDataFrame([("d1", FEB, MAR, False, "s1", "M1", MAR, "opened")], CHANGES)
    assert_df_equality(changes_of(history, drop), expected, ignore_nullable=True)


def test_a_device_back_in_the_drop_opens_a_new_version(spark: SparkSession) -> None:
    history = spark.createDataFrame([("d1", JAN, datetime(2026, 1, 15), False, "s1", "M1", None)], HISTORY)
    drop = spark.createDataFrame([("d1", "s1", "M1", None)], DROP)
    expected = spark.createDataFrame([("d1", FEB, None, True, "s1", "M1", None, "opened")], CHANGES)
    assert_df_equality(changes_of(history, drop), expected, ignore_nullable=True)


def test_a_change_at_the_instant_the_version_opened_replaces_it(spark: SparkSession) -> None:
    history = spark.createDataFrame([("d1", FEB, None, True, "s1", "M1", None)], HISTORY)
    drop = spark.createDataFrame([("d1", "s2", "M1", None)], DROP)
    expected = spark.createDataFrame([("d1", FEB, None, True, "s2", "M1", None, "opened")], CHANGES)
    assert_df_equality(changes_of(history, drop), expected, ignore_nullable=True)


def test_reapplying_a_merged_drop_changes_nothing(spark: SparkSession) -> None:
    history = spark.createDataFrame(
        [
            ("d1", JAN, None, True, "s1", "M1", None),
            ("d2", JAN, None, True, "s1", "M1", None),
            ("d3", JAN, None, True, "s1", "M1", None),
            ("d4", JAN, None, True, "s1", "M1", None),
        ],
        HISTORY,
    )
    drop = spark.createDataFrame(
        [("d1", "s1", "M1", None), ("d2", "s2", "M1", None), ("d4", "s1", "M1", MAR), ("d5", "s3", "M5", None)],
        DROP,
    )
    once = merged(history, changes_of(history, drop))
    expected = spark.createDataFrame(
        [
            ("d1", JAN, None, True, "s1", "M1", None),
            ("d2", JAN, FEB, False, "s1", "M1", None),
            ("d2", FEB, None, True, "s2", "M1", None),
            ("d3", JAN, FEB, False, "s1", "M1", None),
            ("d4", JAN, MAR, False, "s1", "M1", MAR),
            ("d5", FEB, None, True, "s3", "M5", None),
        ],
        HISTORY,
    )
    assert_df_equality(once, expected, ignore_nullable=True, ignore_row_order=True)
    assert changes_of(once, drop).collect() == []


def test_change_counts_say_what_was_opened_closed_and_left_alone(spark: SparkSession) -> None:
    history = spark.createDataFrame(
        [("d1", JAN, None, True, "s1", "M1", None), ("d2", JAN, None, True, "s1", "M1", None)], HISTORY
    )
    drop = spark.createDataFrame([("d1", "s1", "M1", None), ("d2", "s2", "M1", None), ("d3", "s1", "M1", None)], DROP)
    expected = spark.createDataFrame([(2, 1, 1)], "opened long, closed long, unchanged long")
    counts = change_counts(changes_of(history, drop), drop, "device_id")
    assert_df_equality(counts, expected, ignore_nullable=True)


def test_current_latest_and_later_versions(spark: SparkSession) -> None:
    history = spark.createDataFrame(
        [
            ("d1", JAN, FEB, False, "s1", "M1", None),
            ("d1", FEB, None, True, "s2", "M1", None),
            ("d2", JAN, MAR, False, "s1", "M1", MAR),
        ],
        HISTORY,
    )
    current = spark.createDataFrame([("d1", FEB, None, True, "s2", "M1", None)], HISTORY)
    latest = spark.createDataFrame(
        [("d1", FEB, None, True, "s2", "M1", None), ("d2", JAN, MAR, False, "s1", "M1", MAR)], HISTORY
    )
    assert_df_equality(current_versions(history), current, ignore_nullable=True)
    assert_df_equality(
        history.transform(latest_versions("device_id")), latest, ignore_nullable=True, ignore_row_order=True
    )
    assert_df_equality(versions_after(history, JAN.replace(tzinfo=UTC)), current, ignore_nullable=True)


def test_the_read_side_gets_each_devices_newest_version_with_its_retirement(spark: SparkSession) -> None:
    installed = datetime(2025, 6, 1)
    history = spark.createDataFrame(
        [
            ("d1", JAN, FEB, False, "s1", "temperature", "M1", installed, None),
            ("d1", FEB, None, True, "s2", "temperature", "M1", installed, None),
            ("d2", JAN, MAR, False, "s1", "co2", "M2", installed, None),
        ],
        DEVICES.history_schema,
    )
    expected = spark.createDataFrame(
        [("d1", "s2", "temperature", "M1", installed, None), ("d2", "s1", "co2", "M2", installed, MAR)],
        DEVICES.drop_schema,
    )
    assert_df_equality(history.transform(registry_rows(DEVICES)), expected, ignore_nullable=True, ignore_row_order=True)


def test_histories_have_the_reporting_dimensions_columns() -> None:
    assert (SPACES.history_schema, DEVICES.history_schema) == (DIM_SPACE, DIM_DEVICE)
    assert DEVICES.attributes == ("space_id", "device_type", "model", "installed_at")
