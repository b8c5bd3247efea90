"""The steps of a once-per-run rule's evaluation, each on a tiny hand-made input with its exact output."""

from __future__ import annotations

from datetime import datetime, timedelta

from chispa import assert_df_equality
from pyspark.sql import SparkSession

from transformations.critical_rules import (
    pending_run_readings,
    with_firing,
    with_qualifies,
    with_run_number,
    with_run_progress,
)
from transformations.schemas import RULE_STATE

T0 = datetime(2026, 11, 25, 9, 0)


def at(minute: int) -> datetime:
    return T0 + timedelta(minutes=minute)


def test_pending_run_readings_are_once_per_run_readings_after_their_state(spark: SparkSession) -> None:
    matched = spark.createDataFrame(
        [
            ("d1", "r1", "once_per_run", at(1), "e1"),  # before the state's last reading: applied already
            ("d1", "r1", "once_per_run", at(2), "e2"),  # the state's last reading itself
            ("d1", "r1", "once_per_run", at(3), "e3"),
            ("d1", "r2", "each", at(3), "e4"),  # needs no state
            ("d2", "r1", "once_per_run", at(0), "e5"),  # no state yet
        ],
        "device_id string, rule_id string, fires string, event_time timestamp, event_id string",
    )
    state = spark.createDataFrame(
        [("d1", "r1", at(0), 2, at(2), False), ("d9", "r1", at(0), 1, at(0), True)], RULE_STATE
    )
    expected = spark.createDataFrame(
        [
            ("d1", "r1", "once_per_run", at(3), "e3", at(0), 2, at(2), False),
            ("d2", "r1", "once_per_run", at(0), "e5", None, None, None, None),
        ],
        "device_id string, rule_id string, fires string, event_time timestamp, event_id string, "
        "run_start timestamp, run_readings int, last_event_time timestamp, fired boolean",
    )
    pending = matched.transform(pending_run_readings(state))
    assert_df_equality(pending, expected, ignore_row_order=True, ignore_nullable=True)


def test_a_failing_reading_starts_the_next_run_and_run_0_continues_an_open_state_run(spark: SparkSession) -> None:
    columns = "device_id string, rule_id string, event_time timestamp, event_id string, holds boolean, run_readings int"
    readings = spark.createDataFrame(
        [
            ("d1", "r1", at(3), "e4", False, 2),
            ("d1", "r1", at(0), "e1", True, 2),  # the state's open run of 2 readings goes on
            ("d1", "r1", at(1), "e2", False, 2),
            ("d1", "r1", at(2), "e3", True, 2),
            ("d2", "r1", at(0), "e5", True, None),  # no state
            ("d3", "r1", at(0), "e6", True, 0),  # a state without an open run
        ],
        columns,
    )
    expected = spark.createDataFrame(
        [
            ("d1", "r1", at(3), "e4", False, 2, 2, False),
            ("d1", "r1", at(0), "e1", True, 2, 0, True),
            ("d1", "r1", at(1), "e2", False, 2, 1, False),
            ("d1", "r1", at(2), "e3", True, 2, 1, False),
            ("d2", "r1", at(0), "e5", True, None, 0, False),
            ("d3", "r1", at(0), "e6", True, 0, 0, False),
        ],
        f"{columns}, run long, continues_state boolean",
    )
    assert_df_equality(with_run_number(readings), expected, ignore_row_order=True, ignore_nullable=True)


def test_a_run_starts_at_its_first_holding_reading_or_keeps_the_state_start_it_continues(spark: SparkSession) -> None:
    readings = spark.createDataFrame(
        [
            ("d1", "r1", at(0), "e1", True, 0, True, at(-5), 2),
            ("d1", "r1", at(1), "e2", False, 1, False, at(-5), 2),
            ("d1", "r1", at(2), "e3", True, 1, False, at(-5), 2),
            ("d1", "r1", at(3), "e4", True, 1, False, at(-5), 2),
        ],
        "device_id string, rule_id string, event_time timestamp, event_id string, holds boolean, run long, "
        "continues_state boolean, run_start timestamp, run_readings int",
    )
    expected = spark.createDataFrame(
        [
            ("d1", "r1", at(0), "e1", True, 0, True, at(-5), 2, at(-5), 3),
            ("d1", "r1", at(1), "e2", False, 1, False, at(-5), 2, at(2), 0),
            ("d1", "r1", at(2), "e3", True, 1, False, at(-5), 2, at(2), 1),
            ("d1", "r1", at(3), "e4", True, 1, False, at(-5), 2, at(2), 2),
        ],
        "device_id string, rule_id string, event_time timestamp, event_id string, holds boolean, run long, "
        "continues_state boolean, run_start timestamp, run_readings int, run_start_at timestamp, "
        "run_readings_at long",
    )
    assert_df_equality(with_run_progress(readings), expected, ignore_row_order=True, ignore_nullable=True)


def test_a_reading_qualifies_when_the_condition_held_for_enough_readings_and_minutes(spark: SparkSession) -> None:
    columns = (
        "event_id string, holds boolean, run_readings_at long, hold_readings int, hold_minutes double, "
        "run_start_at timestamp, event_time timestamp"
    )
    readings = spark.createDataFrame(
        [
            ("enough readings", True, 3, 3, 0.0, at(0), at(2)),
            ("too few readings", True, 2, 3, 0.0, at(0), at(2)),
            ("too short", True, 1, None, 10.0, at(0), at(9)),
            ("long enough", True, 1, None, 10.0, at(0), at(10)),
            ("no hold given", True, 1, None, None, at(0), at(0)),
            ("condition fails", False, 3, 1, 0.0, at(0), at(5)),
        ],
        columns,
    )
    expected = spark.createDataFrame(
        [
            ("enough readings", True, 3, 3, 0.0, at(0), at(2), True),
            ("too few readings", True, 2, 3, 0.0, at(0), at(2), False),
            ("too short", True, 1, None, 10.0, at(0), at(9), False),
            ("long enough", True, 1, None, 10.0, at(0), at(10), True),
            ("no hold given", True, 1, None, None, at(0), at(0), True),
            ("condition fails", False, 3, 1, 0.0, at(0), at(5), False),
        ],
        f"{columns}, qualifies boolean",
    )
    assert_df_equality(with_qualifies(readings), expected, ignore_row_order=True, ignore_nullable=True)


def test_a_run_fires_at_its_first_qualifying_reading_unless_it_fired_in_an_earlier_batch(spark: SparkSession) -> None:
    columns = (
        "device_id string, rule_id string, run long, event_time timestamp, event_id string, qualifies boolean, "
        "continues_state boolean, fired boolean"
    )
    readings = spark.createDataFrame(
        [
            ("d1", "r1", 0, at(0), "e1", True, True, True),  # continues a run that fired already
            ("d1", "r1", 1, at(1), "e2", False, False, True),
            ("d1", "r1", 1, at(2), "e3", True, False, True),
            ("d1", "r1", 1, at(3), "e4", True, False, True),
            ("d2", "r1", 0, at(0), "e5", False, False, None),  # never qualifies
        ],
        columns,
    )
    first = (at(2), "e3")
    expected = spark.createDataFrame(
        [
            ("d1", "r1", 0, at(0), "e1", True, True, True, True, (at(0), "e1"), False, True),
            ("d1", "r1", 1, at(1), "e2", False, False, True, False, first, False, False),
            ("d1", "r1", 1, at(2), "e3", True, False, True, False, first, True, True),
            ("d1", "r1", 1, at(3), "e4", True, False, True, False, first, False, True),
            ("d2", "r1", 0, at(0), "e5", False, False, None, False, None, False, False),
        ],
        f"{columns}, fired_before boolean, first_qualifying struct<event_time: timestamp, event_id: string>, "
        "fires_here boolean, fired_so_far boolean",
    )
    assert_df_equality(with_firing(readings), expected, ignore_row_order=True, ignore_nullable=True)
