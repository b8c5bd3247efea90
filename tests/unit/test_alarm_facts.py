"""Stored alarms → fact_alarm rows: the raise's local day and the minutes to acknowledge and to clear."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from chispa import assert_df_equality
from pyspark.sql import SparkSession

from transformations.alarm_facts import alarm_facts
from transformations.reporting_schemas import FACT_ALARM

RAISED = datetime(2026, 11, 23, 23, 30, tzinfo=UTC)  # 2026-11-24 00:30 in Amsterdam
STORED = (
    "alarm_id string, rule_id string, rule_version int, scope string, source_id string, building_id string, "
    "space_id string, device_id string, severity string, raised_severity string, message string, metric string, "
    "raised_at timestamp, escalated_at timestamp, cleared_at timestamp, peak_value double, last_value double, "
    "acknowledged_at timestamp, acknowledged_by string"
)


# The alarm's columns from rule_id to metric, the same in the stored row and in its fact.
DESCRIPTION = ("co2_high", 1, "space", "s1", "b1", "s1", None, "warning", "warning", "CO2 high", "co2")


def stored(alarm_id: str, acknowledged: timedelta | None, cleared: timedelta | None) -> tuple[object, ...]:
    return (
        alarm_id,
        *DESCRIPTION,
        RAISED,
        None,
        None if cleared is None else RAISED + cleared,
        1650.0,
        1100.0,
        None if acknowledged is None else RAISED + acknowledged,
        None if acknowledged is None else "alice",
    )


def fact(alarm_id: str, acknowledged: timedelta | None, cleared: timedelta | None) -> tuple[object, ...]:
    def minutes(after: timedelta | None) -> float | None:
        return None if after is None else after.total_seconds() / 60

    return (
        alarm_id,
        *DESCRIPTION,
        RAISED,
        date(2026, 11, 24),
        None,
        None if acknowledged is None else RAISED + acknowledged,
        None if acknowledged is None else "alice",
        None if cleared is None else RAISED + cleared,
        1650.0,
        minutes(acknowledged),
        minutes(cleared),
    )


def test_alarm_facts_carry_the_local_day_and_the_response_times(spark: SparkSession) -> None:
    three_and_a_half, twenty = timedelta(minutes=3, seconds=30), timedelta(minutes=20)
    alarms = spark.createDataFrame([stored("a1", three_and_a_half, twenty), stored("a2", None, None)], STORED)
    expected = spark.createDataFrame([fact("a1", three_and_a_half, twenty), fact("a2", None, None)], FACT_ALARM)
    got = alarms.transform(alarm_facts("Europe/Amsterdam"))
    assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True)
