"""The smoke flow's pure transformations, on small hand-made DataFrames."""

from __future__ import annotations

from datetime import UTC, date, datetime

from chispa import assert_df_equality
from pyspark.sql import SparkSession

from transformations.events import with_event_day
from transformations.kafka_messages import parse_json_messages, to_kafka_messages
from transformations.schemas import SMOKE_READING
from transformations.smoke import latest_by_device, summarize_by_device, synthesize_readings

START = datetime(2026, 1, 1, 23, 58, tzinfo=UTC)
READING_DDL = "run_id string, reading_id string, device_id string, metric string, value double, event_time timestamp"


def naive(moment: datetime) -> datetime:
    """The session runs in UTC; Spark hands timestamps back as naive datetimes."""
    return moment.replace(tzinfo=None)


def test_synthesized_readings_are_deterministic(spark: SparkSession) -> None:
    readings = spark.range(3).transform(synthesize_readings("r1", START, devices=2))
    expected = spark.createDataFrame(
        [
            ("r1", "r1-000000", "smoke-device-000", "temperature", 21.0, naive(START)),
            ("r1", "r1-000001", "smoke-device-001", "temperature", 21.2, datetime(2026, 1, 1, 23, 59)),
            ("r1", "r1-000002", "smoke-device-000", "temperature", 21.4, datetime(2026, 1, 2, 0, 0)),
        ],
        SMOKE_READING,
    )
    assert_df_equality(readings, expected, ignore_nullable=True)


def test_event_day_is_the_utc_day_of_event_time(spark: SparkSession) -> None:
    events = spark.createDataFrame(
        [("d1", datetime(2026, 1, 1, 23, 59, 59)), ("d1", datetime(2026, 1, 2, 0, 0))],
        "device_id string, event_time timestamp",
    )
    expected = spark.createDataFrame(
        [
            ("d1", datetime(2026, 1, 1, 23, 59, 59), date(2026, 1, 1)),
            ("d1", datetime(2026, 1, 2, 0, 0), date(2026, 1, 2)),
        ],
        "device_id string, event_time timestamp, day date",
    )
    assert_df_equality(with_event_day(events), expected)


def test_summary_per_device(spark: SparkSession) -> None:
    readings = spark.createDataFrame(
        [
            ("r1", "a", "d1", "temperature", 20.0, datetime(2026, 1, 1, 10)),
            ("r1", "b", "d1", "temperature", 21.0, datetime(2026, 1, 1, 11)),
            ("r1", "c", "d1", "temperature", 22.5, datetime(2026, 1, 1, 9)),
            ("r1", "d", "d2", "temperature", 19.0, datetime(2026, 1, 1, 8)),
        ],
        READING_DDL,
    )
    expected = spark.createDataFrame(
        [
            ("r1", "d1", 3, 20.0, 22.5, 21.17, datetime(2026, 1, 1, 11)),
            ("r1", "d2", 1, 19.0, 19.0, 19.0, datetime(2026, 1, 1, 8)),
        ],
        "run_id string, device_id string, readings long, min_value double, max_value double, avg_value double, "
        "last_event_time timestamp",
    )
    assert_df_equality(summarize_by_device(readings), expected, ignore_row_order=True, ignore_nullable=True)


def test_latest_reading_per_device_breaks_ties_by_reading_id(spark: SparkSession) -> None:
    readings = spark.createDataFrame(
        [
            ("r1", "a", "d1", "temperature", 20.0, datetime(2026, 1, 1, 10)),
            ("r1", "b", "d1", "temperature", 21.0, datetime(2026, 1, 1, 11)),
            ("r1", "c", "d1", "temperature", 22.0, datetime(2026, 1, 1, 11)),
            ("r1", "d", "d2", "temperature", 19.0, datetime(2026, 1, 1, 8)),
        ],
        READING_DDL,
    )
    expected = spark.createDataFrame(
        [
            ("d1", "temperature", 22.0, datetime(2026, 1, 1, 11), "c"),
            ("d2", "temperature", 19.0, datetime(2026, 1, 1, 8), "d"),
        ],
        "device_id string, metric string, value double, event_time timestamp, reading_id string",
    )
    assert_df_equality(latest_by_device(readings), expected, ignore_row_order=True, ignore_nullable=True)


def test_readings_survive_the_kafka_message_round_trip(spark: SparkSession) -> None:
    readings = spark.createDataFrame([("r1", "a", "d1", "temperature", 20.5, datetime(2026, 1, 1, 10))], SMOKE_READING)
    messages = readings.transform(to_kafka_messages("device_id"))
    assert [tuple(row) for row in messages.collect()] == [
        (
            "d1",
            '{"run_id":"r1","reading_id":"a","device_id":"d1","metric":"temperature","value":20.5,'
            '"event_time":"2026-01-01T10:00:00.000Z"}',
        )
    ]
    from_kafka = messages.selectExpr("key", "CAST(value AS BINARY) AS value", "0 AS partition", "7L AS offset")
    expected = spark.createDataFrame(
        [("r1", "a", "d1", "temperature", 20.5, datetime(2026, 1, 1, 10), 0, 7)],
        f"{READING_DDL}, kafka_partition int, kafka_offset long",
    )
    assert_df_equality(from_kafka.transform(parse_json_messages(SMOKE_READING)), expected, ignore_nullable=True)


def test_a_value_that_is_not_json_parses_to_nulls_with_its_coordinates(spark: SparkSession) -> None:
    messages = spark.createDataFrame([(b"not json", 1, 42)], "value binary, partition int, offset long")
    expected = spark.createDataFrame(
        [(None, None, None, None, None, None, 1, 42)], f"{READING_DDL}, kafka_partition int, kafka_offset long"
    )
    assert_df_equality(messages.transform(parse_json_messages(SMOKE_READING)), expected, ignore_nullable=True)
