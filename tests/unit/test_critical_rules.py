"""Critical-event rules on hand-made micro-batches, including runs that span micro-batch boundaries."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from chispa import assert_df_equality
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from transformations.critical_rules import (
    RuleOutcome,
    attach_space,
    current_rules,
    evaluate_rules,
    latest_readings,
    located_devices,
    match_rules,
    newest_per_space,
)
from transformations.deterministic_ids import DERIVED_RECORDS_NAMESPACE, uuid5_column
from transformations.schemas import CRITICAL_RULE, RULE_STATE

T0 = datetime(2026, 11, 25, 9, 0)
DETECTED = datetime(2026, 11, 25, 12, 0)
LOCATED_CHANGE = (
    "device_id string, event_time timestamp, event_id string, event_type string, metric string, value double, "
    "unit string, severity string, code string, space_id string, space_type string, capacity int"
)
RULES = [
    # rule_id, version, active, event_type, metric, code, space_type, condition, low, high, readings, minutes,
    # fires, severity, message
    (
        "co2_high",
        1,
        True,
        "telemetry",
        "co2",
        None,
        "*",
        "above",
        None,
        1000.0,
        1,
        0.0,
        "once_per_run",
        "warning",
        "CO2 high",
    ),
    (
        "co2_sustained",
        1,
        True,
        "telemetry",
        "co2",
        None,
        "*",
        "above",
        None,
        1200.0,
        3,
        0.0,
        "once_per_run",
        "critical",
        "CO2 sustained",
    ),
    (
        "temp_comfort",
        1,
        True,
        "telemetry",
        "temperature",
        None,
        "office",
        "outside",
        19.0,
        26.0,
        1,
        10.0,
        "once_per_run",
        "warning",
        "Temperature",
    ),
    (
        "over_capacity",
        1,
        True,
        "telemetry",
        "occupancy",
        None,
        "*",
        "above_capacity",
        None,
        None,
        1,
        0.0,
        "once_per_run",
        "warning",
        "Crowded",
    ),
    (
        "door_forced",
        1,
        True,
        "access",
        None,
        "forced",
        "*",
        "matches",
        None,
        None,
        1,
        0.0,
        "each",
        "critical",
        "Door forced",
    ),
    ("device_alarm", 1, True, "alarm", None, None, "*", "matches", None, None, 1, 0.0, "each", None, "Alarm"),
]


def rules(spark: SparkSession) -> DataFrame:
    return spark.createDataFrame(RULES, CRITICAL_RULE)


def empty_state(spark: SparkSession) -> DataFrame:
    return spark.createDataFrame([], RULE_STATE)


def reading(device: str, minute: float, metric: str, value: float, event_id: str, space_type: str = "office"):  # type: ignore[no-untyped-def]
    unit = {"co2": "ppm", "temperature": "celsius", "occupancy": "count"}[metric]
    return (
        device,
        T0 + timedelta(minutes=minute),
        event_id,
        "telemetry",
        metric,
        value,
        unit,
        None,
        None,
        "s1",
        space_type,
        10,
    )


def evaluate(spark: SparkSession, changes: Sequence[tuple[object, ...]], state: DataFrame | None = None) -> RuleOutcome:
    matched = spark.createDataFrame(changes, LOCATED_CHANGE).transform(match_rules(rules(spark)))
    return evaluate_rules(matched, state if state is not None else empty_state(spark), F.lit(DETECTED))


def fired(outcome: RuleOutcome) -> list[tuple[str, str]]:
    return sorted((row.rule_id, row.source_event_id) for row in outcome.critical_events.collect())


def test_uuid5_column_equals_python_uuid5(spark: SparkSession) -> None:
    names = ["co2_high/e1", "door_forced/0f8fad5b-d9cb-469f-a165-70867728950e", "ä/ü", ""]
    got = spark.createDataFrame([(name,) for name in names], "name string").select(
        "name", uuid5_column(F.col("name")).alias("id")
    )
    assert {row.name: row.id for row in got.collect()} == {
        name: str(uuid.uuid5(DERIVED_RECORDS_NAMESPACE, name)) for name in names
    }


def test_newest_rule_version_wins_and_an_inactive_newest_version_retires_the_rule(spark: SparkSession) -> None:
    base = RULES[0]
    versions = spark.createDataFrame(
        [
            base,
            ("co2_high", 2, True, *base[3:9], 1100.0, *base[10:]),
            ("door_forced", 1, True, *RULES[4][3:]),
            ("door_forced", 2, False, *RULES[4][3:]),
        ],
        CRITICAL_RULE,
    )
    got = current_rules(versions).select("rule_id", "rule_version", "high")
    expected = spark.createDataFrame([("co2_high", 2, 1100.0)], "rule_id string, rule_version int, high double")
    assert_df_equality(got, expected, ignore_nullable=True)


def test_each_rules_fire_for_every_event_and_alarms_keep_their_own_severity(spark: SparkSession) -> None:
    changes = [
        ("door-1", T0, "a1", "access", None, None, None, None, "forced", "s1", "lobby", 50),
        ("door-1", T0 + timedelta(minutes=1), "a2", "access", None, None, None, None, "forced", "s1", "lobby", 50),
        ("door-1", T0 + timedelta(minutes=2), "a3", "access", None, None, None, None, "granted", "s1", "lobby", 50),
        ("panel-1", T0, "al1", "alarm", None, None, None, "critical", "fire", "s1", "lobby", 50),
    ]
    outcome = evaluate(spark, changes)
    got = outcome.critical_events.select("rule_id", "source_event_id", "severity", "space_id", "detected_at")
    expected = spark.createDataFrame(
        [
            ("door_forced", "a1", "critical", "s1", DETECTED),
            ("door_forced", "a2", "critical", "s1", DETECTED),
            ("device_alarm", "al1", "critical", "s1", DETECTED),
        ],
        "rule_id string, source_event_id string, severity string, space_id string, detected_at timestamp",
    )
    assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True)
    # each-rules keep no state: only the once-per-run rules' readings reach it
    assert outcome.next_state.count() == 0


def test_critical_event_ids_are_deterministic(spark: SparkSession) -> None:
    changes = [("door-1", T0, "a1", "access", None, None, None, None, "forced", "s1", "lobby", 50)]
    first = evaluate(spark, changes).critical_events.collect()
    again = evaluate(spark, changes).critical_events.collect()
    assert [row.critical_event_id for row in first] == [row.critical_event_id for row in again]
    assert first[0].critical_event_id == str(uuid.uuid5(DERIVED_RECORDS_NAMESPACE, "door_forced/a1"))


def test_threshold_rule_fires_once_per_run_of_readings_above_it(spark: SparkSession) -> None:
    values = [900.0, 1100.0, 1150.0, 800.0, 1050.0]
    outcome = evaluate(spark, [reading("co2-1", i, "co2", v, f"e{i}") for i, v in enumerate(values)])
    assert fired(outcome) == [("co2_high", "e1"), ("co2_high", "e4")]
    state = {row.rule_id: row for row in outcome.next_state.collect()}
    assert state["co2_high"].run_readings == 1 and state["co2_high"].fired is True
    assert state["co2_high"].run_start == T0 + timedelta(minutes=4)
    assert state["co2_sustained"].run_readings == 0 and state["co2_sustained"].fired is False


def test_n_consecutive_readings_rule_fires_across_micro_batches(spark: SparkSession) -> None:
    first = evaluate(spark, [reading("co2-1", 0, "co2", 1250.0, "e0"), reading("co2-1", 1, "co2", 1300.0, "e1")])
    assert fired(first) == [("co2_high", "e0")]
    second = evaluate(spark, [reading("co2-1", 2, "co2", 1260.0, "e2")], first.next_state)
    assert fired(second) == [("co2_sustained", "e2")]
    merged = merge_state(spark, first.next_state, second.next_state)
    third = evaluate(spark, [reading("co2-1", 3, "co2", 1270.0, "e3")], merged)
    assert fired(third) == []


def test_hold_for_minutes_rule_fires_once_the_condition_held_long_enough(spark: SparkSession) -> None:
    first = evaluate(
        spark, [reading("t-1", 0, "temperature", 28.0, "e0"), reading("t-1", 5, "temperature", 28.5, "e1")]
    )
    assert fired(first) == []
    later = [reading("t-1", 9, "temperature", 29.0, "e2"), reading("t-1", 10, "temperature", 29.0, "e3")]
    second = evaluate(spark, later, first.next_state)
    assert fired(second) == [("temp_comfort", "e3")]


def test_a_reading_back_in_the_band_restarts_the_hold_period(spark: SparkSession) -> None:
    first = evaluate(
        spark, [reading("t-1", 0, "temperature", 28.0, "e0"), reading("t-1", 6, "temperature", 22.0, "e1")]
    )
    second = evaluate(spark, [reading("t-1", 11, "temperature", 28.0, "e2")], first.next_state)
    assert fired(second) == []
    third = evaluate(spark, [reading("t-1", 21, "temperature", 28.0, "e3")], second.next_state)
    assert fired(third) == [("temp_comfort", "e3")]


def test_space_type_rules_only_apply_to_their_space_type(spark: SparkSession) -> None:
    changes = [reading("t-1", m, "temperature", 30.0, f"e{m}", space_type="corridor") for m in (0, 20)]
    assert fired(evaluate(spark, changes)) == []


def test_occupancy_is_compared_with_the_space_capacity(spark: SparkSession) -> None:
    changes = [reading("o-1", 0, "occupancy", 10.0, "e0"), reading("o-1", 1, "occupancy", 11.0, "e1")]
    assert fired(evaluate(spark, changes)) == [("over_capacity", "e1")]


def test_reprocessing_a_batch_after_its_state_was_saved_changes_nothing(spark: SparkSession) -> None:
    batch = [reading("co2-1", i, "co2", 1300.0, f"e{i}") for i in range(3)]
    first = evaluate(spark, batch)
    assert fired(first) == [("co2_high", "e0"), ("co2_sustained", "e2")]
    again = evaluate(spark, batch, first.next_state)
    assert fired(again) == [] and again.next_state.count() == 0


def test_latest_readings_keep_the_newest_event_time_per_metric(spark: SparkSession) -> None:
    changes = spark.createDataFrame(
        [
            reading("co2-1", 5, "co2", 700.0, "e5"),
            reading("co2-1", 1, "co2", 900.0, "e1"),
            reading("t-1", 2, "temperature", 21.0, "e2"),
        ],
        LOCATED_CHANGE,
    )
    got = changes.transform(latest_readings("space_id")).select("space_id", "metric", "value", "event_id")
    expected = spark.createDataFrame(
        [("s1", "co2", 700.0, "e5"), ("s1", "temperature", 21.0, "e2")],
        "space_id string, metric string, value double, event_id string",
    )
    assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True)


def merge_state(spark: SparkSession, older: DataFrame, newer: DataFrame) -> DataFrame:
    """What the state store holds after writing newer over older (an upsert by device and rule)."""
    kept = older.join(newer.select("device_id", "rule_id"), ["device_id", "rule_id"], "left_anti")
    return kept.unionByName(newer)


def test_changes_are_located_in_their_device_space_and_unknown_devices_get_none(spark: SparkSession) -> None:
    devices = spark.createDataFrame([("co2-1", "s1", "co2")], "device_id string, space_id string, device_type string")
    spaces = spark.createDataFrame(
        [("s1", "office", 12, "b1", 30.0)],
        "space_id string, space_type string, capacity int, building_id string, a double",
    )
    changes = spark.createDataFrame([("co2-1", "e1"), ("gone-1", "e2")], "device_id string, event_id string")
    got = changes.transform(attach_space(devices.transform(located_devices(spaces))))
    expected = spark.createDataFrame(
        [("co2-1", "e1", "s1", "office", 12, "b1"), ("gone-1", "e2", None, None, None, None)],
        "device_id string, event_id string, space_id string, space_type string, capacity int, building_id string",
    )
    assert_df_equality(got, expected, ignore_row_order=True, ignore_column_order=True, ignore_nullable=True)


def test_newest_per_space_keeps_the_newest_events_and_counts_them_all(spark: SparkSession) -> None:
    columns = "space_id string, event_time timestamp, critical_event_id string"
    later = T0 + timedelta(minutes=2)
    rows = [("s1", T0, "c1"), ("s1", later, "c2"), ("s1", later, "c3"), ("s2", T0, "c4")]
    critical = spark.createDataFrame(rows, columns)
    expected = spark.createDataFrame(
        [("s1", later, "c3", 3), ("s1", later, "c2", 3), ("s2", T0, "c4", 1)],
        f"{columns}, space_events_in_window long",
    )
    got = critical.transform(newest_per_space(2))
    assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True)
