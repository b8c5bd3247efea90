"""Validation of device events: every kind of bad input gets its exact reason; good events pass untouched."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from chispa import assert_df_equality
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from transformations.ingest import accepted_events, quarantine_records
from transformations.quarantine import QuarantineReason as Reason
from transformations.validation import ValidationLimits, flag_unknown_devices, from_kafka_rows, validate_events

ARRIVED = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
EVENT_ID = "6f1c2a4e-8b7d-4c3a-9e21-0a1b2c3d4e5f"
LIMITS = ValidationLimits(max_payload_bytes=2048, max_future_skew_s=300, max_lateness_s=7 * 24 * 3600)


def telemetry(**changes: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "schema_version": 1,
        "event_id": EVENT_ID,
        "device_id": "dev-1",
        "event_type": "telemetry",
        "metric": "co2",
        "value": 612.5,
        "unit": "ppm",
        "event_time": "2026-03-10T12:59:00.250+01:00",
        "attributes": {"firmware": "1.2"},
    }
    event.update(changes)
    return {key: value for key, value in event.items() if value is not ...}


def encode(event: dict[str, Any]) -> str:
    return json.dumps(event)


# (payload, Kafka key, expected reason, expected detail)
CORPUS: list[tuple[str, str | None, str | None, str | None]] = [
    (encode(telemetry()), "dev-1", None, None),
    (
        encode(telemetry(event_type="alarm", metric=..., value=..., unit=..., severity="critical", code="smoke")),
        "dev-1",
        None,
        None,
    ),
    (encode(telemetry(event_type="access", metric=..., value=..., unit=..., code="forced")), "dev-1", None, None),
    (encode(telemetry(attributes={"pad": "x" * 3000})), "dev-1", Reason.PAYLOAD_TOO_LARGE, None),
    ("{not json", "dev-1", Reason.NOT_JSON, "{not json"),
    (encode(telemetry()) + " trailing", "dev-1", Reason.NOT_JSON, None),
    (encode(telemetry()) + "\r\n", "dev-1", None, None),
    (encode(telemetry()) + encode(telemetry()), "dev-1", Reason.NOT_JSON, None),
    (encode(telemetry()) + "\n" + encode(telemetry()), "dev-1", Reason.NOT_JSON, None),
    (str(telemetry()), "dev-1", Reason.NOT_JSON, None),
    ("[1, 2, 3]", "dev-1", Reason.NOT_AN_OBJECT, "[1, 2, 3]"),
    ("null", "dev-1", Reason.NOT_AN_OBJECT, "null"),
    ("42", "dev-1", Reason.NOT_AN_OBJECT, "42"),
    (encode(telemetry(event_id=...)), "dev-1", Reason.MISSING_FIELD, "event_id"),
    (encode(telemetry(device_id=None)), "dev-1", Reason.MISSING_FIELD, "device_id"),
    (encode(telemetry(value="612.5")), "dev-1", Reason.WRONG_TYPE, "value"),
    (encode(telemetry(device_id={"id": "dev-1"})), "dev-1", Reason.WRONG_TYPE, "device_id"),
    (encode(telemetry(schema_version="1")), "dev-1", Reason.WRONG_TYPE, "schema_version"),
    (encode(telemetry(schema_version=2)), "dev-1", Reason.UNSUPPORTED_SCHEMA_VERSION, "2"),
    (encode(telemetry(event_id="not-a-uuid")), "dev-1", Reason.BAD_EVENT_ID, "not-a-uuid"),
    (encode(telemetry()), "dev-2", Reason.KEY_MISMATCH, "key dev-2"),
    (encode(telemetry(event_type="gossip")), "dev-1", Reason.UNKNOWN_EVENT_TYPE, "gossip"),
    (encode(telemetry(unit=...)), "dev-1", Reason.MISSING_FIELD, "unit"),
    (encode(telemetry(metric="radon", unit="Bq")), "dev-1", Reason.UNKNOWN_METRIC, "radon"),
    (encode(telemetry(unit="percent")), "dev-1", Reason.WRONG_UNIT, "co2 percent"),
    (
        encode(telemetry(event_type="alarm", severity="apocalyptic", code="x")),
        "dev-1",
        Reason.UNKNOWN_SEVERITY,
        "apocalyptic",
    ),
    (encode(telemetry(event_type="access", code="teleported")), "dev-1", Reason.UNKNOWN_CODE, "teleported"),
    (encode(telemetry(value=float("nan"))), "dev-1", Reason.NOT_FINITE, "NaN"),
    (encode(telemetry(value=float("inf"))), "dev-1", Reason.NOT_FINITE, "Infinity"),
    (encode(telemetry(value=-5.0)), "dev-1", Reason.OUT_OF_RANGE, "co2 -5.0"),
    (
        encode(telemetry(metric="temperature", unit="celsius", value=120.0)),
        "dev-1",
        Reason.OUT_OF_RANGE,
        "temperature 120.0",
    ),
    (encode(telemetry(event_time="10/03/2026 12:00")), "dev-1", Reason.BAD_EVENT_TIME, "10/03/2026 12:00"),
    (encode(telemetry(event_time="2026-03-10T12:00:00")), "dev-1", Reason.BAD_EVENT_TIME, "2026-03-10T12:00:00"),
    (
        encode(telemetry(event_time="2026-03-10T12:06:00Z")),
        "dev-1",
        Reason.EVENT_TIME_IN_FUTURE,
        "2026-03-10T12:06:00Z",
    ),
    (encode(telemetry(event_time="2026-03-03T11:59:59Z")), "dev-1", Reason.EVENT_TIME_TOO_OLD, "2026-03-03T11:59:59Z"),
    (encode(telemetry(device_id="ghost")), "ghost", Reason.UNKNOWN_DEVICE, "ghost"),
]


def kafka_rows(spark: SparkSession, corpus: list[tuple[str, str | None, str | None, str | None]]) -> DataFrame:
    rows = [
        (key.encode() if key else None, payload.encode(), "events", 0, offset, ARRIVED.replace(tzinfo=None))
        for offset, (payload, key, _, _) in enumerate(corpus)
    ]
    return spark.createDataFrame(
        rows, "key binary, value binary, topic string, partition int, offset long, timestamp timestamp"
    )


def verdicts(spark: SparkSession, corpus: list[tuple[str, str | None, str | None, str | None]]) -> DataFrame:
    registry = spark.createDataFrame([("dev-1",), ("dev-2",)], "device_id string")
    return (
        kafka_rows(spark, corpus)
        .transform(from_kafka_rows)
        .transform(validate_events(LIMITS))
        .transform(flag_unknown_devices(registry))
    )


def test_every_kind_of_bad_input_gets_its_reason(spark: SparkSession) -> None:
    actual = verdicts(spark, CORPUS).select("kafka_offset", "reason")
    expected = spark.createDataFrame(
        [(offset, None if reason is None else str(reason)) for offset, (_, _, reason, _) in enumerate(CORPUS)],
        "kafka_offset long, reason string",
    )
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)


def test_the_detail_names_the_field_or_value_that_failed(spark: SparkSession) -> None:
    with_detail = [(offset, detail) for offset, (_, _, _, detail) in enumerate(CORPUS) if detail is not None]
    actual = (
        verdicts(spark, CORPUS).select("kafka_offset", "detail").where(F.col("kafka_offset").isin(*dict(with_detail)))
    )
    expected = spark.createDataFrame(with_detail, "kafka_offset long, detail string")
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)


def test_an_accepted_event_keeps_its_fields_day_and_kafka_coordinates(spark: SparkSession) -> None:
    accepted = verdicts(spark, CORPUS[:1]).transform(accepted_events)
    expected = spark.createDataFrame(
        [
            (
                "dev-1",
                datetime(2026, 3, 10).date(),
                datetime(2026, 3, 10, 11, 59, 0, 250000),
                EVENT_ID,
                1,
                "telemetry",
                "co2",
                612.5,
                "ppm",
                None,
                None,
                {"firmware": "1.2"},
                "events",
                0,
                0,
                ARRIVED.replace(tzinfo=None),
            )
        ],
        "device_id string, day date, event_time timestamp, event_id string, schema_version int, event_type string, "
        "metric string, value double, unit string, severity string, code string, attributes map<string,string>, "
        "kafka_topic string, kafka_partition int, kafka_offset long, ingest_time timestamp",
    )
    assert_df_equality(accepted, expected, ignore_nullable=True)


def test_a_duplicate_event_id_is_accepted_once(spark: SparkSession) -> None:
    duplicate = CORPUS[0]
    upper = (duplicate[0].replace(EVENT_ID, EVENT_ID.upper()), "dev-1", None, None)
    accepted = verdicts(spark, [duplicate, duplicate, upper]).transform(accepted_events)
    assert [row.event_id for row in accepted.collect()] == [EVENT_ID]


def test_of_an_ids_copies_the_first_received_is_the_one_accepted_whatever_order_the_rows_come_in(
    spark: SparkSession,
) -> None:
    copies = verdicts(spark, [CORPUS[0]] * 3).orderBy(F.col("kafka_offset").desc()).coalesce(1)
    accepted = copies.transform(accepted_events)
    assert [(row.event_id, row.kafka_offset) for row in accepted.collect()] == [(EVENT_ID, 0)]


def test_quarantine_keeps_the_raw_payload_coordinates_and_arrival_date(spark: SparkSession) -> None:
    quarantined = verdicts(spark, CORPUS[4:5]).transform(quarantine_records)
    expected = spark.createDataFrame(
        [
            (
                "dev-1",
                "{not json",
                9,
                "events",
                0,
                0,
                ARRIVED.replace(tzinfo=None),
                None,
                None,
                "not_json",
                "{not json",
                datetime(2026, 3, 10).date(),
            )
        ],
        "key string, payload string, payload_bytes int, kafka_topic string, kafka_partition int, kafka_offset long, "
        "kafka_timestamp timestamp, event_id string, device_id string, reason string, detail string, "
        "ingest_date date",
    )
    assert_df_equality(quarantined, expected, ignore_nullable=True)
